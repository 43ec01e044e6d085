import type { Finding } from '../schemas/finding.js';
import { envelopeBadExamples, type SchemaExamples, withField, withoutField } from './types.js';

const finding: Finding = {
  id: '0192f4a1-8001-7d2a-9b1e-3f5a6c7d8e9f',
  time: '2026-01-15T10:20:30.180Z',
  version: 1,
  type: 'finding',
  host: 'hv-01',
  guest: 'web-1',
  rule: 'syscall-table',
  severity: 'critical',
  title: 'sys_call_table[59] redirected outside kernel text',
  evidence: {
    trap_id: '0192f4a1-7c3e-7d2a-9b1e-3f5a6c7d8e9f',
    object: 'sys_call_table[59]',
    address: { virtual: '0xffffffff820001d8', physical: '0x20001d8' },
    length: 8,
    old_bytes: '10a3b281ffffffff',
    new_bytes: '00c0a0c0ffffffff',
    writer: { rip: '0xffffffffc0a01234', cr3: '0x10a2000', vcpu: 0, kind: 'module', symbol: 'rk_init+0x34', module: 'rk' },
    guard: 'trap',
    attempts: 1,
    aborts: 0,
    mechanism: 'watchpoint',
    detected_by: 'trap',
    check: 'pointer-outside-text',
    restored: false,
  },
  ocsf: {
    class_uid: 2004,
    class_name: 'Detection Finding',
    category_uid: 2,
    category_name: 'Findings',
    activity_id: 1,
    activity_name: 'Create',
    type_uid: 200401,
    time: 1_768_472_430_180,
    severity_id: 5,
    severity: 'Critical',
    status_id: 1,
    status: 'New',
    message: 'sys_call_table[59] redirected outside kernel text',
    metadata: {
      version: '1.3.0',
      product: { name: 'vmi-guard', vendor_name: 'vmi-guard', version: '0.1.0' },
      uid: '0192f4a1-8001-7d2a-9b1e-3f5a6c7d8e9f',
    },
    finding_info: {
      uid: '0192f4a1-8001-7d2a-9b1e-3f5a6c7d8e9f',
      title: 'sys_call_table[59] redirected outside kernel text',
      desc: 'The execve entry now points into module memory',
      types: ['Kernel Integrity'],
      created_time: 1_768_472_430_180,
      analytic: { name: 'syscall-table', type_id: 1, type: 'Rule', uid: 'syscall-table' },
    },
    device: { hostname: 'web-1', type_id: 6, type: 'Virtual', hypervisor: 'QEMU' },
    evidences: [
      {
        data: {
          class_uid: 1004,
          activity_name: 'Write',
          base_address: '0xffffffff820001d8',
          size: 8,
          kernel: { name: 'sys_call_table', type: 'System Call' },
          actor: { rip: '0xffffffffc0a01234', symbol: 'rk_init+0x34' },
        },
      },
    ],
  },
};

export const FINDING_EXAMPLES = {
  finding: {
    good: finding,
    bad: [
      ...envelopeBadExamples(finding),
      { why: 'unknown severity', value: withField(finding, '/severity', 'severe'), path: '/severity' },
      { why: 'evidence length over a page', value: withField(finding, '/evidence/length', 4097), path: '/evidence/length' },
      { why: 'unknown writer kind', value: withField(finding, '/evidence/writer/kind', 'hypervisor'), path: '/evidence/writer/kind' },
      { why: 'unknown guard', value: withField(finding, '/evidence/guard', 'hope'), path: '/evidence/guard' },
      { why: 'OCSF class is not Detection Finding', value: withField(finding, '/ocsf/class_uid', 2001), path: '/ocsf/class_uid' },
      { why: 'OCSF severity_id out of range', value: withField(finding, '/ocsf/severity_id', 100), path: '/ocsf/severity_id' },
      { why: 'no OCSF evidence', value: withField(finding, '/ocsf/evidences', []), path: '/ocsf/evidences' },
      {
        why: 'evidence is not Memory or Kernel Activity',
        value: withField(finding, '/ocsf/evidences/0/data/class_uid', 4001),
        path: '/ocsf/evidences/0/data/class_uid',
      },
      { why: 'OCSF device is missing', value: withoutField(finding, '/ocsf/device'), path: '/ocsf/device' },
    ],
  },
} satisfies { finding: SchemaExamples<'finding'> };
