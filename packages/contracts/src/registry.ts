import type { TSchema } from 'typebox';
import {
  AgentListReply,
  AgentListRequest,
  AgentPauseRequest,
  AgentProtectReply,
  AgentProtectRequest,
  AgentStatsReply,
  AgentUnprotectRequest,
  BaselineRecord,
  ProtectedGuestRecord,
  ScannerScanReply,
  ScannerScanRequest,
  ScannerStatsReply,
} from './schemas/control.js';
import { DeadLetter } from './schemas/deadletter.js';
import { Finding } from './schemas/finding.js';
import {
  ConnectionInfo,
  InputAttachRequest,
  InputCloseRequest,
  InputControlError,
  InputDetachRequest,
  InputEvent,
  InputFocusRequest,
  InputIdentityReply,
  InputOpenRequest,
  InputStatusReply,
  InputStatusRequest,
  KeyInputReply,
  KeyInputRequest,
  SecureInputAck,
  SecureInputBatch,
} from './schemas/input.js';
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
  'agent-list-request': AgentListRequest,
  'agent-list-reply': AgentListReply,
  'agent-protect-request': AgentProtectRequest,
  'agent-unprotect-request': AgentUnprotectRequest,
  'agent-protect-reply': AgentProtectReply,
  'agent-pause-request': AgentPauseRequest,
  'agent-stats-reply': AgentStatsReply,
  'scanner-scan-request': ScannerScanRequest,
  'scanner-scan-reply': ScannerScanReply,
  'scanner-stats-reply': ScannerStatsReply,
  'protected-guest-record': ProtectedGuestRecord,
  'baseline-record': BaselineRecord,
  'input-event': InputEvent,
  'secure-input-batch': SecureInputBatch,
  'secure-input-ack': SecureInputAck,
  'input-open-request': InputOpenRequest,
  'input-close-request': InputCloseRequest,
  'input-focus-request': InputFocusRequest,
  'input-status-request': InputStatusRequest,
  'input-status-reply': InputStatusReply,
  'input-identity-reply': InputIdentityReply,
  'input-attach-request': InputAttachRequest,
  'input-detach-request': InputDetachRequest,
  'input-control-error': InputControlError,
  'input-connection-info': ConnectionInfo,
  'key-input-request': KeyInputRequest,
  'key-input-reply': KeyInputReply,
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
  agentListRequest: compileValidator(AgentListRequest),
  agentListReply: compileValidator(AgentListReply),
  agentProtectRequest: compileValidator(AgentProtectRequest),
  agentUnprotectRequest: compileValidator(AgentUnprotectRequest),
  agentProtectReply: compileValidator(AgentProtectReply),
  agentPauseRequest: compileValidator(AgentPauseRequest),
  agentStatsReply: compileValidator(AgentStatsReply),
  scannerScanRequest: compileValidator(ScannerScanRequest),
  scannerScanReply: compileValidator(ScannerScanReply),
  scannerStatsReply: compileValidator(ScannerStatsReply),
  protectedGuestRecord: compileValidator(ProtectedGuestRecord),
  baselineRecord: compileValidator(BaselineRecord),
  inputEvent: compileValidator(InputEvent),
  secureInputBatch: compileValidator(SecureInputBatch),
  secureInputAck: compileValidator(SecureInputAck),
} satisfies Record<string, MessageValidator<TSchema>>;
