import { describe, expect, it } from 'vitest';
import { isVmiError } from './errors/index.js';
import { EXAMPLES } from './examples/index.js';
import { SCHEMAS, type SchemaKey } from './registry.js';
import { compileValidator } from './validate.js';

function refusal(fn: () => unknown): { code: string; path: string | undefined } {
  try {
    fn();
  } catch (err) {
    if (isVmiError(err)) return { code: err.code, path: err.path };
    throw err;
  }
  throw new Error('expected the value to be refused');
}

describe.each(Object.keys(SCHEMAS) as SchemaKey[])('schema %s', (key) => {
  const validator = compileValidator(SCHEMAS[key]);
  const examples = EXAMPLES[key];

  it('has a good example and bad ones in src/examples', () => {
    expect(examples, `add examples for "${key}" in packages/contracts/src/examples`).toBeDefined();
    expect(examples?.bad.length ?? 0).toBeGreaterThanOrEqual(3);
  });

  it('accepts its good example, also after a JSON round trip', () => {
    if (examples === undefined) return;
    expect(validator.issues(examples.good)).toEqual([]);
    expect(validator.decode(Buffer.from(JSON.stringify(examples.good)))).toEqual(examples.good);
  });

  it.each(examples?.bad.map((b) => [b.why, b] as const) ?? [])('refuses a value where %s', (_why, bad) => {
    expect(validator.check(bad.value)).toBe(false);
    expect(refusal(() => validator.parse(bad.value))).toEqual({ code: 'VMI_ERR_VALIDATION', path: bad.path });
  });
});

describe('the example table', () => {
  it('has no examples for schemas that do not exist', () => {
    const unknown = Object.keys(EXAMPLES).filter((k) => !(k in SCHEMAS));
    expect(unknown).toEqual([]);
  });

  it('refuses bytes that are not JSON with VMI_ERR_JSON_PARSE', () => {
    const validator = compileValidator(SCHEMAS['scan-request']);
    expect(refusal(() => validator.decode(Buffer.from('{"id":')))).toEqual({ code: 'VMI_ERR_JSON_PARSE', path: undefined });
    expect(refusal(() => validator.decode(new Uint8Array([0xff, 0xfe])))).toEqual({ code: 'VMI_ERR_JSON_PARSE', path: undefined });
  });
});
