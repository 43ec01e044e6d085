/** Objects with more keys than this are sorted with the built-in sort (insertion sort is quadratic). */
const SMALL_OBJECT = 24;

/**
 * JSON with object keys sorted at every level and no whitespace, so the same value always gives
 * the same text whatever order its keys arrived in (jsonb does not keep key order).
 *
 * Every stored message goes through this on ingest, so it avoids the per-level arrays and joins of
 * a map-and-join version: keys are sorted in place (insertion sort for the usual small objects) and
 * the text is built by appending. Keys compare by UTF-16 code units, as `Array.prototype.sort` does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    // Matches JSON.stringify: undefined and functions vanish from objects and become null in arrays.
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += canonicalJson(value[i]);
    }
    return `${out}]`;
  }
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  const record = value as Record<string, unknown>;
  const keys = sortedKeys(record);
  let out = '{';
  let first = true;
  for (const key of keys) {
    const v = record[key];
    if (v === undefined || typeof v === 'function') continue;
    if (!first) out += ',';
    first = false;
    out += `${JSON.stringify(key)}:${canonicalJson(v)}`;
  }
  return `${out}}`;
}

function sortedKeys(record: Record<string, unknown>): string[] {
  const keys = Object.keys(record);
  if (keys.length > SMALL_OBJECT) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i] as string;
    let j = i - 1;
    while (j >= 0 && (keys[j] as string) > key) {
      keys[j + 1] = keys[j] as string;
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}
