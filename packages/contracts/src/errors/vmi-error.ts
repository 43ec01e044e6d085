/**
 * The one error class every package throws. A code is stable across releases; the message is for
 * people and may change. `status` is the HTTP status where one applies.
 */
export interface ErrorDefinition {
  readonly code: string;
  readonly status: number;
  readonly message: string;
}

export interface VmiErrorOptions {
  /** JSON path of the offending field, e.g. `/policy/rules/0/length`. */
  readonly path?: string;
  /** Extra, non-secret facts that help the caller (never plaintext input or key material). */
  readonly details?: Record<string, unknown>;
  readonly cause?: unknown;
}

export class VmiError extends Error {
  readonly code: string;
  readonly status: number;
  readonly path: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(def: ErrorDefinition, detail?: string, options: VmiErrorOptions = {}) {
    super(detail ? `${def.message}: ${detail}` : def.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VmiError';
    this.code = def.code;
    this.status = def.status;
    this.path = options.path;
    this.details = options.details;
  }

  /** The wire form: what a REST reply or a dead-letter record carries. */
  toJSON(): { code: string; message: string; status: number; path?: string; details?: Record<string, unknown> } {
    return {
      code: this.code,
      message: this.message,
      status: this.status,
      ...(this.path === undefined ? {} : { path: this.path }),
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

export function isVmiError(value: unknown, code?: string): value is VmiError {
  return value instanceof VmiError && (code === undefined || value.code === code);
}

/** Every entry any `defineErrors` call declared, in declaration order (duplicates included, so a test can find them). */
const catalogue: ErrorDefinition[] = [];

/** The whole error catalogue: every group that `errors/index.ts` loads. */
export function allErrorDefinitions(): readonly ErrorDefinition[] {
  return [...catalogue];
}

/** Declares a group of catalogue entries; keeps the literal codes visible to the type system. */
export function defineErrors<const T extends Record<string, { status: number; message: string }>>(
  prefix: string,
  entries: T,
): { readonly [K in keyof T & string]: ErrorDefinition & { readonly code: `${typeof prefix}_${K}` } } {
  const out: Record<string, ErrorDefinition> = {};
  for (const [key, value] of Object.entries(entries)) {
    const def = Object.freeze({ code: `${prefix}_${key}`, status: value.status, message: value.message });
    out[key] = def;
    catalogue.push(def);
  }
  return Object.freeze(out) as never;
}
