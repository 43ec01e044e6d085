import { AuditErrors, CoreErrors, compileValidator, type MessageValidator, SCHEMAS, type ValidationIssue, VmiError } from '@vmi/contracts';
import Type, { type TSchema, type TUnsafe } from 'typebox';
import { canonicalJson } from '../chain/canonical-json.js';

/** The fields the audit trail indexes, taken from any platform message. */
export interface Envelope {
  readonly id: string;
  readonly type: string;
  readonly host: string | null;
  readonly guest: string | null;
  readonly time: Date;
  /** Findings carry these at the top level, traps and summaries in `region`. */
  readonly severity: string | null;
  readonly rule: string | null;
}

/**
 * What ingest keeps of a message: the envelope and the message as canonical JSON. The parsed
 * object is not kept; a batch waits for its commit holding only these few strings per message.
 */
export interface DecodedMessage {
  readonly envelope: Envelope;
  /** The message as canonical JSON (sorted keys): what is hashed and stored. */
  readonly bodyJson: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_INDEXED = 256;
// jsonb refuses NUL in text and unpaired UTF-16 surrogates.
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what must be found.
const UNSTORABLE_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// The same in JSON text: JSON.stringify writes both as `\u` escapes (and a literal backslash as
// two), so an odd run of backslashes before `u0000` or `ud800`-`udfff` is one.
const UNSTORABLE_JSON = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i;
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Every message schema the contracts registry publishes, by its `type` literal. A schema added to
 * the registry (new input or isolation events, say) is accepted here without any audit change.
 */
export function registeredMessageValidators(schemas: Record<string, TSchema> = SCHEMAS): Map<string, MessageValidator<TSchema>> {
  const out = new Map<string, MessageValidator<TSchema>>();
  for (const schema of Object.values(schemas)) {
    const properties = (schema as { properties?: Record<string, { const?: unknown }> }).properties;
    const type = properties?.type?.const;
    if (typeof type !== 'string' || properties?.id === undefined || out.has(type)) continue;
    out.set(type, compileValidator(schema));
  }
  return out;
}

/**
 * A validator in the shape the runtime's consumers take: it parses JSON, picks the registered
 * schema by the message's `type`, validates, and extracts the envelope. Anything it refuses throws
 * a 400-class VmiError, which the consumer dead-letters.
 */
export function createMessageDecoder(validators: Map<string, MessageValidator<TSchema>>): MessageValidator<TUnsafe<DecodedMessage>> {
  const parse = (value: unknown): DecodedMessage => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new VmiError(CoreErrors.VALIDATION, 'message is not a JSON object', { path: '' });
    }
    const record = value as Record<string, unknown>;
    const type = record.type;
    const validator = typeof type === 'string' ? validators.get(type) : undefined;
    if (validator === undefined) {
      throw new VmiError(CoreErrors.UNKNOWN_MESSAGE_TYPE, JSON.stringify(String(type).slice(0, 64)), { path: '/type' });
    }
    validator.parse(record);
    const envelope = envelopeOf(record, type as string);
    const bodyJson = canonicalJson(record);
    // One scan of the text; the walk that names the field runs only for a message that fails.
    if (UNSTORABLE_JSON.test(bodyJson)) assertStorable(record, '');
    return { envelope, bodyJson };
  };
  const self: MessageValidator<TUnsafe<DecodedMessage>> = {
    schema: Type.Unsafe<DecodedMessage>({ description: 'any registered platform message' }),
    check: (value): value is DecodedMessage => {
      try {
        parse(value);
        return true;
      } catch {
        return false;
      }
    },
    issues(value): ValidationIssue[] {
      try {
        parse(value);
        return [];
      } catch (err) {
        const e = err as VmiError;
        return [{ path: e.path ?? '', message: e.message }];
      }
    },
    parse,
    decode(data) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(typeof data === 'string' ? data : textDecoder.decode(data));
      } catch (cause) {
        throw new VmiError(CoreErrors.JSON_PARSE, 'audit ingest', { cause });
      }
      return parse(parsed);
    },
  };
  return self;
}

function envelopeOf(message: Record<string, unknown>, type: string): Envelope {
  const id = message.id;
  if (typeof id !== 'string' || !UUID.test(id)) throw new VmiError(AuditErrors.ENVELOPE, 'id is not a UUID', { path: '/id' });
  const time = typeof message.time === 'string' ? new Date(message.time) : null;
  const year = time?.getUTCFullYear() ?? Number.NaN;
  if (time === null || !(year >= 1 && year <= 9999)) {
    throw new VmiError(AuditErrors.ENVELOPE, 'time is not a timestamp between years 1 and 9999', { path: '/time' });
  }
  const region = typeof message.region === 'object' && message.region !== null ? (message.region as Record<string, unknown>) : {};
  return {
    id: id.toLowerCase(),
    type,
    host: indexable(message.host),
    guest: indexable(message.guest),
    time,
    severity: indexable(message.severity) ?? indexable(region.severity),
    rule: indexable(message.rule) ?? indexable(region.rule),
  };
}

function indexable(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_INDEXED ? value : null;
}

function assertStorable(value: unknown, path: string): void {
  if (typeof value === 'string') {
    if (UNSTORABLE_TEXT.test(value)) throw new VmiError(AuditErrors.UNSTORABLE, 'NUL or unpaired surrogate in text', { path });
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      assertStorable(v, `${path}/${i}`);
    });
    return;
  }
  for (const [key, v] of Object.entries(value)) {
    const at = `${path}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    if (UNSTORABLE_TEXT.test(key)) throw new VmiError(AuditErrors.UNSTORABLE, 'NUL or unpaired surrogate in a key', { path: at });
    assertStorable(v, at);
  }
}
