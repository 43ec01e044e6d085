import type { SchemaKey } from '../registry.js';
import { AUDIT_API_EXAMPLES } from './audit-api.js';
import { CONTROL_EXAMPLES } from './control.js';
import { DEADLETTER_EXAMPLES } from './deadletter.js';
import { FINDING_EXAMPLES } from './finding.js';
import { INPUT_EXAMPLES } from './input.js';
import { ISOLATION_EXAMPLES } from './isolation.js';
import { POLICY_EXAMPLES } from './policy.js';
import { TRAP_EXAMPLES } from './trap.js';
import type { SchemaExamples } from './types.js';

export { type BadExample, envelopeBadExamples, type SchemaExamples, withField, withoutField } from './types.js';

/**
 * A good and several bad examples for each schema in SCHEMAS, by the same key. The schema tests
 * fail for a schema without examples here; add a file per schema domain and spread it in.
 */
export const EXAMPLES: { readonly [K in SchemaKey]?: SchemaExamples<K> } = {
  ...TRAP_EXAMPLES,
  ...AUDIT_API_EXAMPLES,
  ...CONTROL_EXAMPLES,
  ...FINDING_EXAMPLES,
  ...DEADLETTER_EXAMPLES,
  ...POLICY_EXAMPLES,
  ...ISOLATION_EXAMPLES,
  ...INPUT_EXAMPLES,
};
