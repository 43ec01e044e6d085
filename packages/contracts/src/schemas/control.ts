import Type, { type Static } from 'typebox';
import { Hex64, Mechanism, Mode, Name, RuleName, Severity, Sha256Hex, Timestamp, Uint } from './common.js';
import { PolicyRule } from './policy.js';
import { ProtectedRegion } from './trap.js';

/**
 * Requests and replies of the host agent's and the scanner's NATS control services
 * (`vmi.ctl.host-agent`, `vmi.ctl.scanner`), and the protection state the agent shares with scanners
 * through JetStream KV.
 */

const GuestSelector = Type.Object({ guest: Name }, { additionalProperties: false });

/** How a region's bytes are judged once they changed. */
export const RegionCheck = Type.Union([
  Type.Literal('hash'),
  Type.Literal('syscall-entry'),
  Type.Literal('idt-gate'),
  Type.Literal('text'),
  Type.Literal('string'),
]);
export type RegionCheck = Static<typeof RegionCheck>;

export const AgentGuestStatus = Type.Object(
  {
    guest: Name,
    attached: Type.Boolean(),
    paused: Type.Boolean(),
    mode: Mode,
    mechanisms: Type.Object({ watchpoint: Type.Boolean(), 'uffd-wp': Type.Boolean() }, { additionalProperties: false }),
    regions: Type.Array(ProtectedRegion, { maxItems: 100_000 }),
    policy_sha256: Type.Union([Sha256Hex, Type.Null()]),
    last_error: Type.Union([Type.String({ maxLength: 2000 }), Type.Null()]),
  },
  { additionalProperties: false },
);
export type AgentGuestStatus = Static<typeof AgentGuestStatus>;

export const AgentListRequest = Type.Object(
  { guest: Type.Optional(Name) },
  { $id: 'agent-list-request', title: 'agent-list-request', additionalProperties: false },
);
export type AgentListRequest = Static<typeof AgentListRequest>;
export const AgentListReply = Type.Object(
  { guests: Type.Array(AgentGuestStatus, { maxItems: 1000 }) },
  { $id: 'agent-list-reply', title: 'agent-list-reply', additionalProperties: false },
);
export type AgentListReply = Static<typeof AgentListReply>;

/** Adds (or replaces, by rule name) one rule of a guest's live policy. */
export const AgentProtectRequest = Type.Object(
  { guest: Name, rule: PolicyRule },
  { $id: 'agent-protect-request', title: 'agent-protect-request', additionalProperties: false },
);
export type AgentProtectRequest = Static<typeof AgentProtectRequest>;
export const AgentUnprotectRequest = Type.Object(
  { guest: Name, rule: RuleName },
  { $id: 'agent-unprotect-request', title: 'agent-unprotect-request', additionalProperties: false },
);
export type AgentUnprotectRequest = Static<typeof AgentUnprotectRequest>;
export const AgentProtectReply = Type.Object(
  { guest: Name, regions: Type.Array(ProtectedRegion, { maxItems: 100_000 }) },
  { $id: 'agent-protect-reply', title: 'agent-protect-reply', additionalProperties: false },
);
export type AgentProtectReply = Static<typeof AgentProtectReply>;

/** Pauses (disarms, keeping the policy) or resumes trap handling for one guest. */
export const AgentPauseRequest = Type.Object(
  { guest: Name, paused: Type.Boolean() },
  { $id: 'agent-pause-request', title: 'agent-pause-request', additionalProperties: false },
);
export type AgentPauseRequest = Static<typeof AgentPauseRequest>;

export const AgentGuestStats = Type.Object(
  {
    guest: Name,
    traps: Uint,
    published: Uint,
    suppressed: Uint,
    summaries: Uint,
    publish_retries: Uint,
    outbox: Uint,
    held: Uint,
    released_on_timeout: Uint,
    restored: Uint,
    rearms: Uint,
    policy_rejected: Uint,
  },
  { additionalProperties: false },
);
export type AgentGuestStats = Static<typeof AgentGuestStats>;
export const AgentStatsReply = Type.Object(
  { guests: Type.Array(AgentGuestStats, { maxItems: 1000 }) },
  { $id: 'agent-stats-reply', title: 'agent-stats-reply', additionalProperties: false },
);
export type AgentStatsReply = Static<typeof AgentStatsReply>;

/** Asks the scanner to copy and check a guest's protected regions now (all when `rules` is empty). */
export const ScannerScanRequest = Type.Object(
  {
    guest: Name,
    rules: Type.Optional(Type.Array(RuleName, { maxItems: 1000 })),
  },
  { $id: 'scanner-scan-request', title: 'scanner-scan-request', additionalProperties: false },
);
export type ScannerScanRequest = Static<typeof ScannerScanRequest>;
export const ScannerScanReply = Type.Object(
  {
    guest: Name,
    checked: Uint,
    findings: Type.Array(Type.String({ format: 'uuid' }), { maxItems: 100_000 }),
    duration_ms: Type.Number({ minimum: 0 }),
  },
  { $id: 'scanner-scan-reply', title: 'scanner-scan-reply', additionalProperties: false },
);
export type ScannerScanReply = Static<typeof ScannerScanReply>;

export const ScannerStatsReply = Type.Object(
  {
    traps: Uint,
    /** Traps checked from the copy a core subscription brought (one hop from the agent). */
    fast_traps: Uint,
    /** Traps checked from the durable consumer's copy (the fast one missed or its check failed). */
    durable_traps: Uint,
    /** Fast copies left to the durable consumer because the scanner had its limit in hand. */
    fast_deferred: Uint,
    /** Trap events taken straight from the agent over its handoff socket. */
    handoff_traps: Uint,
    findings: Uint,
    benign: Uint,
    verdicts: Uint,
    sweeps: Uint,
    sweep_findings: Uint,
    /** On-demand scans this instance ran. */
    scans: Uint,
    /** On-demand scans of another host's guest this instance passed to a scanner on that host. */
    scans_forwarded: Uint,
    rejected: Uint,
    guests: Type.Array(Name, { maxItems: 1000 }),
  },
  { $id: 'scanner-stats-reply', title: 'scanner-stats-reply', additionalProperties: false },
);
export type ScannerStatsReply = Static<typeof ScannerStatsReply>;

/**
 * What a host agent shares about one attached guest (KV `<prefix>-protection`, key `<guest>.guest`):
 * where its memory is and how to read its traps' write generations.
 */
export const ProtectedGuestRecord = Type.Object(
  {
    guest: Name,
    host: Name,
    ram_file: Type.String({ minLength: 1, maxLength: 4096 }),
    profile_file: Type.String({ minLength: 1, maxLength: 4096 }),
    generation_table: Type.Union([Type.String({ minLength: 1, maxLength: 4096 }), Type.Null()]),
    mode: Mode,
    updated: Timestamp,
  },
  { $id: 'protected-guest-record', title: 'protected-guest-record', additionalProperties: false },
);
export type ProtectedGuestRecord = Static<typeof ProtectedGuestRecord>;

/**
 * One protected object with its baseline (KV key `<guest>.r.<object slug>`). Large objects are cut into
 * chunks (`part`) so every baseline copy fits a message.
 */
export const BaselineRecord = Type.Object(
  {
    guest: Name,
    rule: RuleName,
    object: Type.String({ minLength: 1, maxLength: 256 }),
    severity: Severity,
    mode: Mode,
    check: RegionCheck,
    virtual: Type.Union([Hex64, Type.Null()]),
    physical: Hex64,
    length: Type.Integer({ minimum: 1, maximum: 256 * 1024 }),
    mechanisms: Type.Array(Mechanism, { maxItems: 2 }),
    sha256: Sha256Hex,
    bytes_base64: Type.String({ maxLength: 400_000 }),
    /** Values the object may hold (strings: the text; others: hex of all bytes). */
    allow_values: Type.Array(Type.String({ maxLength: 8192 }), { maxItems: 256 }),
    allow_writers: Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 256 }),
    taken: Timestamp,
  },
  { $id: 'baseline-record', title: 'baseline-record', additionalProperties: false },
);
export type BaselineRecord = Static<typeof BaselineRecord>;

export const GuestSelectorRequest = GuestSelector;
