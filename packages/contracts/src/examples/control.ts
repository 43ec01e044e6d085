import type { AgentGuestStats, AgentGuestStatus, BaselineRecord, ProtectedGuestRecord, ScannerStatsReply } from '../schemas/control.js';
import type { ProtectedRegion } from '../schemas/trap.js';
import type { SchemaExamples } from './types.js';
import { withField, withoutField } from './types.js';

const region: ProtectedRegion = {
  rule: 'syscall-table',
  object: 'sys_call_table[59]',
  severity: 'critical',
  mode: 'monitor',
  virtual: '0xffffffff820002d8',
  physical: '0x20002d8',
  length: 8,
  mechanisms: ['watchpoint'],
  baseline_sha256: 'a'.repeat(64),
};

const status: AgentGuestStatus = {
  guest: 'web-1',
  attached: true,
  paused: false,
  mode: 'monitor',
  mechanisms: { watchpoint: true, 'uffd-wp': false },
  regions: [region],
  policy_sha256: 'b'.repeat(64),
  last_error: null,
};

const stats: AgentGuestStats = {
  guest: 'web-1',
  traps: 10_000,
  published: 100,
  suppressed: 9_900,
  summaries: 3,
  publish_retries: 0,
  outbox: 0,
  held: 0,
  released_on_timeout: 0,
  restored: 0,
  rearms: 1,
  policy_rejected: 0,
};

const guestRecord: ProtectedGuestRecord = {
  guest: 'web-1',
  host: 'hv-1',
  ram_file: '/dev/shm/web-1.ram',
  profile_file: '/var/lib/vmi/profiles/web-1.json',
  generation_table: null,
  mode: 'monitor',
  updated: '2026-01-01T00:00:00.000Z',
};

const baseline: BaselineRecord = {
  guest: 'web-1',
  rule: 'modprobe-path',
  object: 'modprobe_path',
  severity: 'high',
  mode: 'monitor',
  check: 'string',
  virtual: '0xffffffff82b5e0a0',
  physical: '0x2b5e0a0',
  length: 16,
  mechanisms: ['watchpoint'],
  sha256: 'c'.repeat(64),
  bytes_base64: Buffer.from('/sbin/modprobe\0\0').toString('base64'),
  allow_values: ['/sbin/modprobe'],
  allow_writers: [],
  taken: '2026-01-01T00:00:00.000Z',
};

const scannerStats: ScannerStatsReply = {
  traps: 5,
  fast_traps: 4,
  durable_traps: 1,
  fast_deferred: 0,
  handoff_traps: 4,
  findings: 2,
  benign: 3,
  verdicts: 5,
  sweeps: 10,
  sweep_findings: 1,
  scans: 0,
  scans_forwarded: 0,
  rejected: 0,
  guests: ['web-1'],
};

export const CONTROL_EXAMPLES = {
  'agent-list-request': {
    good: { guest: 'web-1' },
    bad: [
      { why: 'guest is empty', value: { guest: '' }, path: '/guest' },
      { why: 'guest is a number', value: { guest: 1 }, path: '/guest' },
      { why: 'an unknown property', value: { guest: 'web-1', all: true }, path: '/all' },
    ],
  },
  'agent-list-reply': {
    good: { guests: [status] },
    bad: [
      { why: 'guests is missing', value: {}, path: '/guests' },
      { why: 'attached is not a boolean', value: withField({ guests: [status] }, '/guests/0/attached', 'yes'), path: '/guests/0/attached' },
      {
        why: 'a region without a length',
        value: withoutField({ guests: [status] }, '/guests/0/regions/0/length'),
        path: '/guests/0/regions/0/length',
      },
    ],
  },
  'agent-protect-request': {
    good: {
      guest: 'web-1',
      rule: { name: 'core-pattern', severity: 'high', target: { kind: 'string', symbol: 'core_pattern', length: 128, allowed: ['core'] } },
    },
    bad: [
      { why: 'rule is missing', value: { guest: 'web-1' }, path: '/rule' },
      {
        why: 'unknown target kind',
        value: { guest: 'web-1', rule: { name: 'x', severity: 'high', target: { kind: 'register' } } },
        path: '/rule/target/symbol',
      },
      {
        why: 'guest is missing',
        value: { rule: { name: 'x', severity: 'low', target: { kind: 'symbol', symbol: 'a', length: 1 } } },
        path: '/guest',
      },
    ],
  },
  'agent-unprotect-request': {
    good: { guest: 'web-1', rule: 'core-pattern' },
    bad: [
      { why: 'rule name with a space', value: { guest: 'web-1', rule: 'core pattern' }, path: '/rule' },
      { why: 'rule is missing', value: { guest: 'web-1' }, path: '/rule' },
      { why: 'an unknown property', value: { guest: 'web-1', rule: 'a', force: true }, path: '/force' },
    ],
  },
  'agent-protect-reply': {
    good: { guest: 'web-1', regions: [region] },
    bad: [
      { why: 'regions is missing', value: { guest: 'web-1' }, path: '/regions' },
      {
        why: 'unknown mechanism',
        value: withField({ guest: 'web-1', regions: [region] }, '/regions/0/mechanisms/0', 'ept'),
        path: '/regions/0/mechanisms/0',
      },
      {
        why: 'physical is not hex',
        value: withField({ guest: 'web-1', regions: [region] }, '/regions/0/physical', '42'),
        path: '/regions/0/physical',
      },
    ],
  },
  'agent-pause-request': {
    good: { guest: 'web-1', paused: true },
    bad: [
      { why: 'paused is missing', value: { guest: 'web-1' }, path: '/paused' },
      { why: 'paused is a string', value: { guest: 'web-1', paused: 'true' }, path: '/paused' },
      { why: 'guest is missing', value: { paused: false }, path: '/guest' },
    ],
  },
  'agent-stats-reply': {
    good: { guests: [stats] },
    bad: [
      { why: 'a negative count', value: withField({ guests: [stats] }, '/guests/0/traps', -1), path: '/guests/0/traps' },
      { why: 'a count is missing', value: withoutField({ guests: [stats] }, '/guests/0/suppressed'), path: '/guests/0/suppressed' },
      { why: 'guests is not a list', value: { guests: stats }, path: '/guests' },
    ],
  },
  'scanner-scan-request': {
    good: { guest: 'web-1', rules: ['syscall-table'] },
    bad: [
      { why: 'guest is missing', value: { rules: [] }, path: '/guest' },
      { why: 'a rule name with a slash', value: { guest: 'web-1', rules: ['a/b'] }, path: '/rules/0' },
      { why: 'an unknown property', value: { guest: 'web-1', deep: true }, path: '/deep' },
    ],
  },
  'scanner-scan-reply': {
    good: { guest: 'web-1', checked: 707, findings: ['0190a5e0-1c2d-5e3f-8a4b-5c6d7e8f9a0b'], duration_ms: 12.5 },
    bad: [
      { why: 'a finding id is not a UUID', value: { guest: 'web-1', checked: 1, findings: ['x'], duration_ms: 1 }, path: '/findings/0' },
      { why: 'negative duration', value: { guest: 'web-1', checked: 1, findings: [], duration_ms: -1 }, path: '/duration_ms' },
      { why: 'checked is missing', value: { guest: 'web-1', findings: [], duration_ms: 1 }, path: '/checked' },
    ],
  },
  'scanner-stats-reply': {
    good: scannerStats,
    bad: [
      { why: 'traps is negative', value: withField(scannerStats, '/traps', -5), path: '/traps' },
      { why: 'guests is missing', value: withoutField(scannerStats, '/guests'), path: '/guests' },
      { why: 'sweeps is a string', value: withField(scannerStats, '/sweeps', '1'), path: '/sweeps' },
    ],
  },
  'protected-guest-record': {
    good: guestRecord,
    bad: [
      { why: 'ram_file is empty', value: withField(guestRecord, '/ram_file', ''), path: '/ram_file' },
      { why: 'unknown mode', value: withField(guestRecord, '/mode', 'loud'), path: '/mode' },
      { why: 'updated is missing', value: withoutField(guestRecord, '/updated'), path: '/updated' },
    ],
  },
  'baseline-record': {
    good: baseline,
    bad: [
      { why: 'unknown check', value: withField(baseline, '/check', 'vibes'), path: '/check' },
      { why: 'sha256 is not hex', value: withField(baseline, '/sha256', 'xyz'), path: '/sha256' },
      { why: 'length of zero', value: withField(baseline, '/length', 0), path: '/length' },
    ],
  },
} satisfies {
  [K in
    | 'agent-list-request'
    | 'agent-list-reply'
    | 'agent-protect-request'
    | 'agent-unprotect-request'
    | 'agent-protect-reply'
    | 'agent-pause-request'
    | 'agent-stats-reply'
    | 'scanner-scan-request'
    | 'scanner-scan-reply'
    | 'scanner-stats-reply'
    | 'protected-guest-record'
    | 'baseline-record']: SchemaExamples<K>;
};
