import type { ProtectionPolicy } from '../schemas/policy.js';
import { type SchemaExamples, withField, withoutField } from './types.js';

const policy: ProtectionPolicy = {
  version: 1,
  guest: 'web-1',
  mode: 'monitor',
  rules: [
    { name: 'syscall-table', severity: 'critical', target: { kind: 'table', table: 'sys_call_table' } },
    {
      name: 'idt',
      severity: 'high',
      mode: 'enforce',
      mechanism: 'watchpoint',
      target: { kind: 'table', table: 'idt_table', entries: 256 },
    },
    { name: 'kernel-text', severity: 'critical', mechanism: 'uffd-wp', target: { kind: 'symbol-range', start: '_stext', end: '_etext' } },
    {
      name: 'modprobe-path',
      severity: 'high',
      target: { kind: 'string', symbol: 'modprobe_path', length: 256, allowed: ['/sbin/modprobe'] },
    },
    { name: 'cred-jar', severity: 'medium', target: { kind: 'symbol', symbol: 'cred_jar', length: 8 }, allow_writers: ['kmem_cache_*'] },
    { name: 'boot-params', severity: 'low', target: { kind: 'physical', address: '0x9000', length: 4096 }, allow_values: ['00'.repeat(8)] },
  ],
  sweep: { enabled: true, period_s: 30 },
  coalesce: { burst: 10, window_ms: 1000 },
};

export const POLICY_EXAMPLES = {
  'protection-policy': {
    good: policy,
    bad: [
      { why: 'unknown policy version', value: withField(policy, '/version', 2), path: '/version' },
      { why: 'guest is missing', value: withoutField(policy, '/guest'), path: '/guest' },
      { why: 'unknown mode', value: withField(policy, '/mode', 'paranoid'), path: '/mode' },
      { why: 'no rules', value: withField(policy, '/rules', []), path: '/rules' },
      { why: 'rule name with a space', value: withField(policy, '/rules/0/name', 'syscall table'), path: '/rules/0/name' },
      { why: 'unknown severity', value: withField(policy, '/rules/0/severity', 'urgent'), path: '/rules/0/severity' },
      { why: 'unknown mechanism', value: withField(policy, '/rules/1/mechanism', 'ept'), path: '/rules/1/mechanism' },
      { why: 'allowed values are not hex', value: withField(policy, '/rules/5/allow_values/0', 'zz'), path: '/rules/5/allow_values/0' },
      { why: 'sweep period of zero', value: withField(policy, '/sweep/period_s', 0), path: '/sweep/period_s' },
      { why: 'coalesce window under 10 ms', value: withField(policy, '/coalesce/window_ms', 1), path: '/coalesce/window_ms' },
      { why: 'an unknown top-level property', value: withField(policy, '/owner', 'me'), path: '/owner' },
    ],
  },
} satisfies { 'protection-policy': SchemaExamples<'protection-policy'> };
