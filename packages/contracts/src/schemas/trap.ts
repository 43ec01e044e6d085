import Type, { type Static } from 'typebox';
import { Hex64, HexBytes, Mechanism, Mode, message, Name, RuleName, Severity, Timestamp, Uint } from './common.js';

/** Where a write landed: the virtual address the trap saw and/or the guest-physical one. */
export const TrapAddress = Type.Object(
  {
    virtual: Type.Union([Hex64, Type.Null()]),
    physical: Type.Union([Hex64, Type.Null()]),
  },
  { additionalProperties: false },
);

/** Who wrote: what the vCPU state said at the stop (null where the mechanism cannot tell). */
export const TrapWriter = Type.Object(
  {
    rip: Type.Union([Hex64, Type.Null()]),
    cr3: Type.Union([Hex64, Type.Null()]),
    vcpu: Type.Union([Uint, Type.Null()]),
  },
  { additionalProperties: false },
);

/** The protected object a trap belongs to, as the policy named it. */
export const ProtectedRegionRef = Type.Object(
  {
    rule: RuleName,
    object: Type.String({ minLength: 1, maxLength: 256, description: 'e.g. sys_call_table[59], idt_table[3], _stext.._etext' }),
    severity: Severity,
    mode: Mode,
  },
  { additionalProperties: false },
);

export const TrapEvent = message(
  'trap',
  {
    seq: Uint,
    region: ProtectedRegionRef,
    address: TrapAddress,
    length: Type.Integer({ minimum: 1, maximum: 4096 }),
    old_bytes: HexBytes,
    new_bytes: HexBytes,
    writer: TrapWriter,
    mechanism: Mechanism,
    /** True when several writes inside one re-protect window were merged into this net change. */
    merged: Type.Boolean(),
    /** True when the vCPU is held until a verdict (enforce mode). */
    held: Type.Boolean(),
    trapped_at: Timestamp,
    /** Nanoseconds from the stop to the event leaving the native core. */
    native_latency_ns: Uint,
  },
  'A write to protected guest data, as the trap engine recorded it',
);
export type TrapEvent = Static<typeof TrapEvent>;

export const TrapSummary = message(
  'trap-summary',
  {
    region: ProtectedRegionRef,
    /** Traps in this window, all of them, published or not. */
    count: Uint,
    /** Of those, how many were not published individually. */
    suppressed: Uint,
    first_seen: Timestamp,
    last_seen: Timestamp,
    window_ms: Uint,
    last_trap_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
  },
  'A storm of traps on one region, coalesced: counts add up to every trap seen',
);
export type TrapSummary = Static<typeof TrapSummary>;

export const ProtectedRegion = Type.Object(
  {
    rule: RuleName,
    object: Type.String({ minLength: 1, maxLength: 256 }),
    severity: Severity,
    mode: Mode,
    virtual: Type.Union([Hex64, Type.Null()]),
    physical: Hex64,
    length: Type.Integer({ minimum: 1, maximum: 64 * 1024 * 1024 }),
    mechanisms: Type.Array(Mechanism, { maxItems: 2 }),
    baseline_sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  },
  { additionalProperties: false },
);
export type ProtectedRegion = Static<typeof ProtectedRegion>;

export const AgentEventKind = Type.Union([
  Type.Literal('started'),
  Type.Literal('attached'),
  Type.Literal('rearmed'),
  Type.Literal('detached'),
  Type.Literal('policy-applied'),
  Type.Literal('policy-rejected'),
  Type.Literal('protection-lost'),
  Type.Literal('protection-restored'),
  Type.Literal('stopped'),
]);

export const AgentEvent = message(
  'agent',
  {
    event: AgentEventKind,
    regions: Type.Array(ProtectedRegion, { maxItems: 100_000 }),
    mechanisms: Type.Object(
      { watchpoint: Type.Boolean(), 'uffd-wp': Type.Boolean() },
      { additionalProperties: false, description: 'Which trap mechanisms are live for this guest' },
    ),
    reason: Type.Union([Type.String({ maxLength: 2000 }), Type.Null()]),
    error: Type.Union([
      Type.Object(
        { code: Type.String(), message: Type.String({ maxLength: 2000 }), path: Type.Optional(Type.String()) },
        { additionalProperties: false },
      ),
      Type.Null(),
    ]),
    /** Seconds the guest was unprotected before this event, when it reports a gap. */
    gap_s: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
  },
  'Agent and guest lifecycle: what is protected, and every gap in protection',
);
export type AgentEvent = Static<typeof AgentEvent>;

export const ScanRequest = message(
  'scan-request',
  {
    /** Rule names to scan, or all of the guest's protected regions when empty. */
    rules: Type.Array(RuleName, { maxItems: 1000 }),
    reason: Type.Union([Type.Literal('on-demand'), Type.Literal('periodic'), Type.Literal('sweep')]),
    requested_by: Type.String({ minLength: 1, maxLength: 128 }),
  },
  'Ask the scanner to copy and check protected regions now',
);
export type ScanRequest = Static<typeof ScanRequest>;

export const Verdict = message(
  'verdict',
  {
    trap_id: Type.String({ format: 'uuid' }),
    verdict: Type.Union([Type.Literal('benign'), Type.Literal('malicious')]),
    reason: Type.String({ minLength: 1, maxLength: 2000 }),
    finding_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    /** Enforce mode: restore the old bytes before releasing the vCPU. */
    restore: Type.Boolean(),
  },
  "The scanner's verdict on a trap; in enforce mode the agent releases the held vCPU on it",
);
export type Verdict = Static<typeof Verdict>;

export const GuestName = Name;
