import type { Static } from 'typebox';
import type { SCHEMAS, SchemaKey } from '../registry.js';

/** A value a schema must refuse, and the JSON pointer of the field its error must name. */
export interface BadExample {
  readonly value: unknown;
  readonly path: string;
  /** What is wrong, for the test's name. */
  readonly why: string;
}

export interface SchemaExamples<K extends SchemaKey = SchemaKey> {
  readonly good: Static<(typeof SCHEMAS)[K]>;
  readonly bad: readonly BadExample[];
}

type Json = unknown;

function parsePointer(pointer: string): string[] {
  if (!pointer.startsWith('/')) throw new Error(`not a JSON pointer: ${pointer}`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** A deep copy of `value` with the field at `pointer` set (created if missing). */
export function withField(value: Json, pointer: string, field: Json): Json {
  const copy = structuredClone(value) as Record<string, Json>;
  const tokens = parsePointer(pointer);
  const last = tokens.pop() as string;
  let at: Record<string, Json> = copy;
  for (const t of tokens) at = at[t] as Record<string, Json>;
  at[last] = field;
  return copy;
}

/** A deep copy of `value` without the field at `pointer`. */
export function withoutField(value: Json, pointer: string): Json {
  const copy = structuredClone(value) as Record<string, Json>;
  const tokens = parsePointer(pointer);
  const last = tokens.pop() as string;
  let at: Record<string, Json> = copy;
  for (const t of tokens) at = at[t] as Record<string, Json>;
  delete at[last];
  return copy;
}

/** The bad examples every message with the common envelope must refuse. */
export function envelopeBadExamples(good: Json): BadExample[] {
  return [
    { why: 'id is not a UUID', value: withField(good, '/id', 'not-a-uuid'), path: '/id' },
    { why: 'time is missing', value: withoutField(good, '/time'), path: '/time' },
    { why: 'time is not RFC 3339', value: withField(good, '/time', 'yesterday'), path: '/time' },
    { why: 'unknown schema version', value: withField(good, '/version', 2), path: '/version' },
    { why: 'host is empty', value: withField(good, '/host', ''), path: '/host' },
    { why: 'guest has a control character', value: withField(good, '/guest', 'web\n1'), path: '/guest' },
    { why: 'an unknown property', value: withField(good, '/extra', true), path: '/extra' },
  ];
}
