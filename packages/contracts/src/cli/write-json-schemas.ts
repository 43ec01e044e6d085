/**
 * Writes every schema in SCHEMAS as JSON Schema (draft 2020-12) into packages/contracts/json-schema,
 * so readers without TypeScript (a SOC, another language) have the wire contract. Run `pnpm schemas`
 * after changing a schema; a test fails while the checked-in files are out of date.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JSON_SCHEMA_DIR, renderJsonSchemas } from './json-schemas.js';

const files = renderJsonSchemas();
mkdirSync(JSON_SCHEMA_DIR, { recursive: true });
for (const existing of readdirSync(JSON_SCHEMA_DIR)) {
  if (existing.endsWith('.json') && !files.has(existing)) rmSync(join(JSON_SCHEMA_DIR, existing));
}
for (const [name, text] of files) writeFileSync(join(JSON_SCHEMA_DIR, name), text);
process.stdout.write(`wrote ${files.size} files to ${JSON_SCHEMA_DIR}\n`);
