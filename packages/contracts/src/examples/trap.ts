import type { AgentEvent, ScanRequest, TrapEvent, TrapSummary, Verdict } from '../schemas/trap.js';
import { envelopeBadExamples, type SchemaExamples, withField, withoutField } from './types.js';

const trapEvent: TrapEvent = {
  id: '0192f4a1-7c3e-7d2a-9b1e-3f5a6c7d8e9f',
  time: '2026-01-15T10:20:30.123Z',
  version: 1,
  type: 'trap',
  host: 'hv-01',
  guest: 'web-1',
  seq: 42,
  region: { rule: 'syscall-table', object: 'sys_call_table[59]', severity: 'critical', mode: 'monitor' },
  address: { virtual: '0xffffffff820001d8', physical: '0x20001d8' },
  length: 8,
  old_bytes: '10a3b281ffffffff',
  new_bytes: '00c0a0c0ffffffff',
  writer: { rip: '0xffffffffc0a01234', cr3: '0x10a2000', vcpu: 0 },
  mechanism: 'watchpoint',
  merged: false,
  held: false,
  trapped_at: '2026-01-15T10:20:30.120Z',
  native_latency_ns: 85_000,
};

const trapSummary: TrapSummary = {
  id: '0192f4a1-7d00-7d2a-9b1e-3f5a6c7d8e9f',
  time: '2026-01-15T10:20:31.000Z',
  version: 1,
  type: 'trap-summary',
  host: 'hv-01',
  guest: 'web-1',
  region: { rule: 'idt', object: 'idt_table[3]', severity: 'high', mode: 'enforce' },
  count: 5000,
  suppressed: 4990,
  first_seen: '2026-01-15T10:20:30.000Z',
  last_seen: '2026-01-15T10:20:30.998Z',
  window_ms: 1000,
  last_trap_id: '0192f4a1-7cff-7d2a-9b1e-3f5a6c7d8e9f',
};

const agentEvent: AgentEvent = {
  id: '0192f4a1-7e00-7d2a-9b1e-3f5a6c7d8e9f',
  time: '2026-01-15T10:00:00.000Z',
  version: 1,
  type: 'agent',
  host: 'hv-01',
  guest: 'web-1',
  event: 'protection-restored',
  regions: [
    {
      rule: 'syscall-table',
      object: 'sys_call_table[59]',
      severity: 'critical',
      mode: 'monitor',
      virtual: '0xffffffff820001d8',
      physical: '0x20001d8',
      length: 8,
      mechanisms: ['watchpoint', 'uffd-wp'],
      baseline_sha256: 'a'.repeat(64),
    },
  ],
  mechanisms: { watchpoint: true, 'uffd-wp': true },
  reason: 'guest rebooted',
  error: null,
  gap_s: 2.5,
};

const scanRequest: ScanRequest = {
  id: '0192f4a1-7f00-7d2a-9b1e-3f5a6c7d8e9f',
  time: '2026-01-15T10:05:00.000Z',
  version: 1,
  type: 'scan-request',
  host: 'hv-01',
  guest: 'web-1',
  rules: ['syscall-table'],
  reason: 'on-demand',
  requested_by: 'operator@soc',
};

const verdict: Verdict = {
  id: '0192f4a1-8000-7d2a-9b1e-3f5a6c7d8e9f',
  time: '2026-01-15T10:20:30.200Z',
  version: 1,
  type: 'verdict',
  host: 'hv-01',
  guest: 'web-1',
  trap_id: trapEvent.id,
  verdict: 'malicious',
  reason: 'sys_call_table[59] points outside kernel text',
  finding_id: '0192f4a1-8001-7d2a-9b1e-3f5a6c7d8e9f',
  restore: true,
};

export const TRAP_EXAMPLES = {
  'trap-event': {
    good: trapEvent,
    bad: [
      ...envelopeBadExamples(trapEvent),
      { why: 'wrong message type', value: withField(trapEvent, '/type', 'finding'), path: '/type' },
      { why: 'address is not lower-case hex', value: withField(trapEvent, '/address/virtual', '0xFFFF'), path: '/address/virtual' },
      { why: 'length is zero', value: withField(trapEvent, '/length', 0), path: '/length' },
      { why: 'old bytes are odd-length hex', value: withField(trapEvent, '/old_bytes', 'abc'), path: '/old_bytes' },
      { why: 'unknown severity', value: withField(trapEvent, '/region/severity', 'urgent'), path: '/region/severity' },
      { why: 'unknown mechanism', value: withField(trapEvent, '/mechanism', 'ept'), path: '/mechanism' },
      { why: 'negative vCPU', value: withField(trapEvent, '/writer/vcpu', -1), path: '/writer/vcpu' },
      { why: 'held is missing', value: withoutField(trapEvent, '/held'), path: '/held' },
    ],
  },
  'trap-summary': {
    good: trapSummary,
    bad: [
      ...envelopeBadExamples(trapSummary),
      { why: 'negative count', value: withField(trapSummary, '/count', -5), path: '/count' },
      { why: 'count is not an integer', value: withField(trapSummary, '/count', 1.5), path: '/count' },
      { why: 'last trap id is not a UUID', value: withField(trapSummary, '/last_trap_id', 'x'), path: '/last_trap_id' },
      { why: 'rule name has a space', value: withField(trapSummary, '/region/rule', 'my rule'), path: '/region/rule' },
    ],
  },
  'agent-event': {
    good: agentEvent,
    bad: [
      ...envelopeBadExamples(agentEvent),
      { why: 'unknown lifecycle event', value: withField(agentEvent, '/event', 'exploded'), path: '/event' },
      {
        why: 'baseline hash is short',
        value: withField(agentEvent, '/regions/0/baseline_sha256', 'abc'),
        path: '/regions/0/baseline_sha256',
      },
      { why: 'unknown mechanism flag', value: withField(agentEvent, '/mechanisms/ept', true), path: '/mechanisms/ept' },
      { why: 'negative gap', value: withField(agentEvent, '/gap_s', -1), path: '/gap_s' },
    ],
  },
  'scan-request': {
    good: scanRequest,
    bad: [
      ...envelopeBadExamples(scanRequest),
      { why: 'unknown reason', value: withField(scanRequest, '/reason', 'because'), path: '/reason' },
      { why: 'rules is not a list', value: withField(scanRequest, '/rules', 'all'), path: '/rules' },
      { why: 'a rule name with a wildcard', value: withField(scanRequest, '/rules/0', 'sys*'), path: '/rules/0' },
      { why: 'requester is empty', value: withField(scanRequest, '/requested_by', ''), path: '/requested_by' },
    ],
  },
  verdict: {
    good: verdict,
    bad: [
      ...envelopeBadExamples(verdict),
      { why: 'unknown verdict', value: withField(verdict, '/verdict', 'maybe'), path: '/verdict' },
      { why: 'trap id is missing', value: withoutField(verdict, '/trap_id'), path: '/trap_id' },
      { why: 'restore is not a boolean', value: withField(verdict, '/restore', 'yes'), path: '/restore' },
    ],
  },
} satisfies { [K in 'trap-event' | 'trap-summary' | 'agent-event' | 'scan-request' | 'verdict']: SchemaExamples<K> };
