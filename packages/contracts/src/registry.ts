import type { TSchema } from 'typebox';
import { DeadLetter } from './schemas/deadletter.js';
import { Finding } from './schemas/finding.js';
import { ProtectionPolicy } from './schemas/policy.js';
import { AgentEvent, ScanRequest, TrapEvent, TrapSummary, Verdict } from './schemas/trap.js';
import { compileValidator, type MessageValidator } from './validate.js';

/**
 * Every schema that crosses a process boundary, by file name. The JSON Schema writer and the
 * schema tests iterate this table, so a schema added here is published and tested.
 */
export const SCHEMAS = {
  'trap-event': TrapEvent,
  'trap-summary': TrapSummary,
  finding: Finding,
  'agent-event': AgentEvent,
  'scan-request': ScanRequest,
  verdict: Verdict,
  deadletter: DeadLetter,
  'protection-policy': ProtectionPolicy,
} as const satisfies Record<string, TSchema>;

export type SchemaKey = keyof typeof SCHEMAS;

/** Compiled validators, built once. */
export const validators = {
  trapEvent: compileValidator(TrapEvent),
  trapSummary: compileValidator(TrapSummary),
  finding: compileValidator(Finding),
  agentEvent: compileValidator(AgentEvent),
  scanRequest: compileValidator(ScanRequest),
  verdict: compileValidator(Verdict),
  deadLetter: compileValidator(DeadLetter),
  policy: compileValidator(ProtectionPolicy),
} satisfies Record<string, MessageValidator<TSchema>>;
