import { describe, expect, it } from 'vitest';
import { allErrorDefinitions, CoreErrors, defineErrors } from './errors/index.js';

describe('the error catalogue', () => {
  const all = allErrorDefinitions();

  it('lists every group loaded by errors/index.ts', () => {
    expect(all).toContain(CoreErrors.VALIDATION);
    expect(new Set(all.map((d) => d.code.split('_')[2])).size).toBeGreaterThan(1);
  });

  it('has unique, well-formed codes with an HTTP error status and a message', () => {
    const codes = all.map((d) => d.code);
    const duplicates = codes.filter((c, i) => codes.indexOf(c) !== i);
    expect(duplicates).toEqual([]);
    for (const def of all) {
      expect(def.code).toMatch(/^VMI_ERR(_[A-Z0-9]+)+$/);
      expect(def.status).toBeGreaterThanOrEqual(400);
      expect(def.status).toBeLessThan(600);
      expect(def.message.length).toBeGreaterThan(0);
    }
  });

  it('sees a duplicate code when a group repeats one', () => {
    const before = allErrorDefinitions().length;
    defineErrors('VMI_ERR', { VALIDATION: { status: 400, message: 'again' } });
    const codes = allErrorDefinitions().map((d) => d.code);
    expect(codes.length).toBe(before + 1);
    expect(codes.filter((c) => c === 'VMI_ERR_VALIDATION')).toHaveLength(2);
  });
});
