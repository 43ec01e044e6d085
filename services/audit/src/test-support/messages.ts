import {
  type AgentEvent,
  type Finding,
  newId,
  OCSF_FINDING_CREATED,
  OCSF_SEVERITY_ID,
  OCSF_SEVERITY_NAME,
  type SeverityName,
  type TrapEvent,
} from '@vmi/contracts';

/** Schema-valid platform messages with the fields the tests vary. */

export function trapEvent(o: { host: string; guest: string; rule: string; severity: SeverityName; time: Date; seq?: number }): TrapEvent {
  return {
    id: newId(),
    time: o.time.toISOString(),
    version: 1,
    type: 'trap',
    host: o.host,
    guest: o.guest,
    seq: o.seq ?? 1,
    region: { rule: o.rule, object: 'sys_call_table[59]', severity: o.severity, mode: 'monitor' },
    address: { virtual: '0xffffffff820001d8', physical: '0x20001d8' },
    length: 8,
    old_bytes: '10a3b281ffffffff',
    new_bytes: '00c0a0c0ffffffff',
    writer: { rip: '0xffffffffc0a01234', cr3: '0x10a2000', vcpu: 0 },
    mechanism: 'watchpoint',
    merged: false,
    held: false,
    trapped_at: o.time.toISOString(),
    native_latency_ns: 85_000,
  };
}

export function finding(o: { host: string; guest: string; rule: string; severity: SeverityName; time: Date }): Finding {
  const id = newId();
  const title = `${o.rule} changed`;
  return {
    id,
    time: o.time.toISOString(),
    version: 1,
    type: 'finding',
    host: o.host,
    guest: o.guest,
    rule: o.rule,
    severity: o.severity,
    title,
    evidence: {
      trap_id: null,
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
      ...OCSF_FINDING_CREATED,
      time: o.time.getTime(),
      severity_id: OCSF_SEVERITY_ID[o.severity],
      severity: OCSF_SEVERITY_NAME[o.severity],
      message: title,
      metadata: { version: '1.3.0', product: { name: 'vmi-guard', vendor_name: 'vmi-guard', version: '0.1.0' }, uid: id },
      finding_info: {
        uid: id,
        title,
        desc: title,
        types: ['Kernel Integrity'],
        created_time: o.time.getTime(),
        analytic: { name: o.rule, type_id: 1, type: 'Rule', uid: o.rule },
      },
      device: { hostname: o.guest, type_id: 6, type: 'Virtual', hypervisor: 'QEMU' },
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
}

export function agentEvent(o: { host: string; guest: string; time: Date }): AgentEvent {
  return {
    id: newId(),
    time: o.time.toISOString(),
    version: 1,
    type: 'agent',
    host: o.host,
    guest: o.guest,
    event: 'attached',
    regions: [],
    mechanisms: { watchpoint: true, 'uffd-wp': false },
    reason: null,
    error: null,
    gap_s: null,
  };
}
