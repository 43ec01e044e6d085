import type { Static, TSchema } from 'typebox';
import { Compile, type Validator } from 'typebox/compile';
import { CoreErrors } from './errors/core.js';
import { VmiError } from './errors/vmi-error.js';

export interface ValidationIssue {
  /** JSON pointer of the bad field (`/evidence/address`), `` for the root. */
  readonly path: string;
  readonly message: string;
}

/** A compiled validator for one schema that throws {@link VmiError} `VMI_ERR_VALIDATION`. */
export interface MessageValidator<T extends TSchema> {
  readonly schema: T;
  check(value: unknown): value is Static<T>;
  issues(value: unknown): ValidationIssue[];
  /** Returns the value typed, or throws with the first bad field's path. */
  parse(value: unknown): Static<T>;
  /** Parses JSON bytes or text and validates; bad JSON throws `VMI_ERR_JSON_PARSE`. */
  decode(data: Uint8Array | string): Static<T>;
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

function issuesOf(validator: Validator, value: unknown): ValidationIssue[] {
  const seen = new Set<string>();
  const out: ValidationIssue[] = [];
  for (const e of validator.Errors(value)) {
    // `additionalProperties: false` reports both a `boolean` error at the extra key and a summary
    // at the parent; the keyed one is the useful path.
    let path = e.instancePath;
    let message = e.message;
    if (e.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperties?: string[] }).additionalProperties?.[0];
      if (extra !== undefined) {
        path = `${path}/${extra}`;
        message = 'is not an allowed property';
      }
    } else if (e.keyword === 'boolean') {
      message = 'is not an allowed property';
    } else if (e.keyword === 'required') {
      const missing = (e.params as { requiredProperties?: string[] }).requiredProperties?.[0];
      if (missing !== undefined) {
        path = `${path}/${missing}`;
        message = 'is required';
      }
    }
    const key = `${path}\u0000${message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ path, message });
    }
  }
  return out;
}

export function compileValidator<T extends TSchema>(schema: T, name = schemaName(schema)): MessageValidator<T> {
  const validator = Compile(schema) as unknown as Validator;
  const self: MessageValidator<T> = {
    schema,
    check: (value: unknown): value is Static<T> => validator.Check(value),
    issues: (value) => issuesOf(validator, value),
    parse(value) {
      if (validator.Check(value)) return value as Static<T>;
      const issues = issuesOf(validator, value);
      const first = issues[0] ?? { path: '', message: 'is invalid' };
      throw new VmiError(CoreErrors.VALIDATION, `${name}${first.path || '/'} ${first.message}`, {
        path: first.path,
        details: { schema: name, issues: issues.slice(0, 10) },
      });
    },
    decode(data) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(typeof data === 'string' ? data : textDecoder.decode(data));
      } catch (cause) {
        throw new VmiError(CoreErrors.JSON_PARSE, name, { cause });
      }
      return self.parse(parsed);
    },
  };
  return self;
}

function schemaName(schema: TSchema): string {
  const s = schema as { $id?: unknown; title?: unknown };
  if (typeof s.$id === 'string') return s.$id;
  if (typeof s.title === 'string') return s.title;
  return 'message';
}
