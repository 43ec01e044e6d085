import { DEFAULT_PREFIX, type SubjectKind, Subjects, slugToken } from './subjects.js';

/**
 * JetStream topology as plain data, so every service (and the docs) agree on it. Field names follow
 * the JetStream API (`StreamConfig` / `ConsumerConfig`) so a runtime can pass them straight through.
 */
export interface StreamDefinition {
  readonly name: string;
  readonly subjects: readonly string[];
  readonly description: string;
  readonly retention: 'limits' | 'workqueue' | 'interest';
  readonly storage: 'file' | 'memory';
  /** Nanoseconds, as JetStream takes it; 0 = unlimited. */
  readonly max_age: number;
  readonly max_bytes: number;
  readonly max_msg_size: number;
  /** Nanoseconds within which a repeated `Nats-Msg-Id` is dropped as a duplicate. */
  readonly duplicate_window: number;
  readonly discard: 'old' | 'new';
  readonly num_replicas: number;
}

export interface ConsumerDefinition {
  readonly stream: string;
  readonly durable_name: string;
  readonly description: string;
  readonly filter_subject: string;
  readonly ack_policy: 'explicit';
  readonly deliver_policy: 'all' | 'new';
  /** Nanoseconds before an unacknowledged message is redelivered. */
  readonly ack_wait: number;
  readonly max_deliver: number;
  readonly max_ack_pending: number;
}

const SECOND_NS = 1_000_000_000;
const DAY_NS = 86_400 * SECOND_NS;
const MIB = 1024 * 1024;

export type StreamKey = 'traps' | 'trapSummaries' | 'findings' | 'agent' | 'input' | 'isolation' | 'scans' | 'verdicts' | 'deadLetters';

const STREAMS: Record<StreamKey, { kind: SubjectKind; suffix: string; description: string; maxAgeDays: number; retention?: 'workqueue' }> =
  {
    traps: { kind: 'trap', suffix: 'TRAPS', description: 'Write-trap events from host agents', maxAgeDays: 7 },
    trapSummaries: { kind: 'trap-summary', suffix: 'TRAP_SUMMARIES', description: 'Coalesced trap-storm summaries', maxAgeDays: 7 },
    findings: { kind: 'finding', suffix: 'FINDINGS', description: 'OCSF Detection Findings', maxAgeDays: 90 },
    agent: { kind: 'agent', suffix: 'AGENT', description: 'Agent and guest lifecycle events', maxAgeDays: 30 },
    input: { kind: 'input', suffix: 'INPUT', description: 'Input-gateway events (never plaintext)', maxAgeDays: 30 },
    isolation: { kind: 'isolation', suffix: 'ISOLATION', description: 'Kernel-VM lifecycle events', maxAgeDays: 30 },
    scans: { kind: 'scan', suffix: 'SCANS', description: 'On-demand scan requests', maxAgeDays: 1, retention: 'workqueue' },
    verdicts: { kind: 'verdict', suffix: 'VERDICTS', description: 'Scanner verdicts on held traps', maxAgeDays: 1 },
    deadLetters: {
      kind: 'deadletter',
      suffix: 'DEADLETTER',
      description: 'Messages that can never be processed, with their error',
      maxAgeDays: 30,
    },
  };

export function streamName(key: StreamKey, prefix: string = DEFAULT_PREFIX): string {
  return `${prefix.toUpperCase().replace(/-/g, '_')}_${STREAMS[key].suffix}`;
}

export function streamDefinition(key: StreamKey, prefix: string = DEFAULT_PREFIX): StreamDefinition {
  const s = STREAMS[key];
  const subjects = new Subjects(prefix);
  return {
    name: streamName(key, prefix),
    subjects: [subjects.all(s.kind)],
    description: s.description,
    retention: s.retention ?? 'limits',
    storage: 'file',
    max_age: s.maxAgeDays * DAY_NS,
    max_bytes: -1,
    max_msg_size: 1 * MIB,
    duplicate_window: 120 * SECOND_NS,
    discard: 'old',
    num_replicas: 1,
  };
}

export function allStreamDefinitions(prefix: string = DEFAULT_PREFIX): StreamDefinition[] {
  return (Object.keys(STREAMS) as StreamKey[]).map((k) => streamDefinition(k, prefix));
}

/** A durable pull consumer with explicit ack on one stream. Several processes may share it. */
export function consumerDefinition(
  key: StreamKey,
  durable: string,
  options: {
    prefix?: string;
    description?: string;
    filterSubject?: string;
    ackWaitSeconds?: number;
    maxDeliver?: number;
    maxAckPending?: number;
  } = {},
): ConsumerDefinition {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const def = streamDefinition(key, prefix);
  return {
    stream: def.name,
    durable_name: durable,
    description: options.description ?? `${durable} on ${def.name}`,
    filter_subject: options.filterSubject ?? (def.subjects[0] as string),
    ack_policy: 'explicit',
    deliver_policy: 'all',
    ack_wait: (options.ackWaitSeconds ?? 30) * SECOND_NS,
    max_deliver: options.maxDeliver ?? 10,
    max_ack_pending: options.maxAckPending ?? 1000,
  };
}

/** The durable consumers the platform's services create. */
export const CONSUMERS = {
  /**
   * The traps of one host's guests, shared by that host's scanner instances: only a scanner on the
   * guest's host can read its memory.
   */
  scannerTraps: (host: string, prefix?: string) =>
    consumerDefinition('traps', `scanner-traps-${slugToken(host)}`, {
      prefix,
      filterSubject: new Subjects(prefix).hostTraps(host),
      description: `Scanners of ${host} check every trap of its guests`,
    }),
  /** On-demand scans of one host's guests, shared by that host's scanner instances. */
  scannerScans: (host: string, prefix?: string) =>
    consumerDefinition('scans', `scanner-scans-${slugToken(host)}`, {
      prefix,
      filterSubject: new Subjects(prefix).hostScans(host),
      description: `Scanners of ${host} serve on-demand scans of its guests`,
    }),
  audit: (key: StreamKey, prefix?: string) =>
    consumerDefinition(key, `audit-${STREAMS[key].suffix.toLowerCase().replace(/_/g, '-')}`, {
      prefix,
      description: `Audit ingest of ${streamName(key, prefix)}`,
      maxAckPending: 5000,
    }),
} as const;

export const NATS_HEADERS = {
  msgId: 'Nats-Msg-Id',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  /** Set on dead letters: the stable error code and the original subject. */
  errorCode: 'Vmi-Error-Code',
  originalSubject: 'Vmi-Original-Subject',
  schema: 'Vmi-Schema',
  /**
   * Set on a trap event to `none` when the agent had a handoff socket and handed the event to no
   * scanner (none connected, or all lagging): no fast copy exists, so a scanner checks the durable
   * one at once instead of waiting for another instance's fast check.
   */
  fastCopy: 'Vmi-Fast-Copy',
} as const;
