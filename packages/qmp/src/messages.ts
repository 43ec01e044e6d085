/** The three kinds of document a QMP server sends, told apart and shape-checked. */

export interface QmpGreeting {
  readonly version: { readonly qemu: { readonly major: number; readonly minor: number; readonly micro: number }; readonly package: string };
  readonly capabilities: readonly string[];
}

export interface QmpEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
  /** Host wall-clock time of the event, in microseconds since the epoch, as QEMU stamped it. */
  readonly timestampUs: number;
}

export type QmpMessage =
  | { readonly kind: 'greeting'; readonly greeting: QmpGreeting }
  | { readonly kind: 'event'; readonly event: QmpEvent }
  | { readonly kind: 'return'; readonly id: unknown; readonly value: unknown }
  | { readonly kind: 'error'; readonly id: unknown; readonly errorClass: string; readonly desc: string }
  | { readonly kind: 'invalid'; readonly reason: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function classifyMessage(value: unknown): QmpMessage {
  if (!isRecord(value)) return { kind: 'invalid', reason: 'not a JSON object' };
  if ('return' in value) return { kind: 'return', id: value.id, value: value.return };
  if ('error' in value) {
    const error = value.error;
    if (!isRecord(error)) return { kind: 'invalid', reason: 'error member is not an object' };
    return {
      kind: 'error',
      id: value.id,
      errorClass: typeof error.class === 'string' ? error.class : 'GenericError',
      desc: typeof error.desc === 'string' ? error.desc : 'no description',
    };
  }
  if (typeof value.event === 'string') {
    const ts = isRecord(value.timestamp) ? value.timestamp : {};
    const seconds = typeof ts.seconds === 'number' ? ts.seconds : 0;
    const micros = typeof ts.microseconds === 'number' ? ts.microseconds : 0;
    return {
      kind: 'event',
      event: { event: value.event, data: isRecord(value.data) ? value.data : {}, timestampUs: seconds * 1_000_000 + micros },
    };
  }
  if (isRecord(value.QMP)) {
    const qmp = value.QMP;
    const version = isRecord(qmp.version) ? qmp.version : {};
    const qemu = isRecord(version.qemu) ? version.qemu : {};
    const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
    return {
      kind: 'greeting',
      greeting: {
        version: {
          qemu: { major: num(qemu.major), minor: num(qemu.minor), micro: num(qemu.micro) },
          package: typeof version.package === 'string' ? version.package : '',
        },
        capabilities: Array.isArray(qmp.capabilities) ? qmp.capabilities.filter((c): c is string => typeof c === 'string') : [],
      },
    };
  }
  return { kind: 'invalid', reason: 'neither a greeting, an event nor a command reply' };
}
