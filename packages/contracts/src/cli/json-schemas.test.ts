import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Compile } from 'typebox/compile';
import { describe, expect, it } from 'vitest';
import { EXAMPLES } from '../examples/index.js';
import { SCHEMAS, type SchemaKey } from '../registry.js';
import { JSON_SCHEMA_DIR, renderJsonSchemas } from './json-schemas.js';

describe('the checked-in JSON Schema files', () => {
  const expected = renderJsonSchemas();

  it('are up to date with SCHEMAS (run `pnpm schemas` after changing a schema)', () => {
    const onDisk = readdirSync(JSON_SCHEMA_DIR).filter((f) => f.endsWith('.json'));
    expect(onDisk.sort()).toEqual([...expected.keys()].sort());
    for (const [name, text] of expected) {
      expect(readFileSync(join(JSON_SCHEMA_DIR, name), 'utf8'), `${name} is out of date`).toBe(text);
    }
  });

  it('accept the good examples and refuse the bad ones when read back as plain JSON', () => {
    for (const key of Object.keys(SCHEMAS) as SchemaKey[]) {
      const examples = EXAMPLES[key];
      if (examples === undefined) continue;
      const schema = JSON.parse(expected.get(`${key}.schema.json`) ?? 'null') as Record<string, unknown>;
      const validator = Compile(schema);
      expect(validator.Check(examples.good), key).toBe(true);
      for (const bad of examples.bad) expect(validator.Check(bad.value), `${key}: ${bad.why}`).toBe(false);
    }
  });
});
