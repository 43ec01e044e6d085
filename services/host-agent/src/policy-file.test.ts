import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentErrors, isVmiError } from '@vmi/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPolicyFile, parsePolicy, watchPolicyFile } from './policy-file.js';

const dir = mkdtempSync(join(tmpdir(), 'policy-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const good = {
  version: 1,
  guest: 'web-1',
  mode: 'monitor',
  rules: [{ name: 'syscalls', severity: 'critical', target: { kind: 'table', table: 'sys_call_table' } }],
};

function refusal(fn: () => unknown): { code: string; path: string | undefined; message: string } {
  try {
    fn();
  } catch (err) {
    if (isVmiError(err)) return { code: err.code, path: err.path, message: err.message };
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('policy files are validated and refused with the field and the reason', () => {
  it('accepts a valid policy and hashes its bytes', () => {
    const loaded = parsePolicy(JSON.stringify(good), 'web-1');
    expect(loaded.policy.rules[0]?.name).toBe('syscalls');
    expect(loaded.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('names the bad field of a schema violation', () => {
    const bad = { ...good, rules: [{ ...good.rules[0], severity: 'apocalyptic' }] };
    const r = refusal(() => parsePolicy(JSON.stringify(bad), 'web-1'));
    expect(r.code).toBe(AgentErrors.POLICY_INVALID.code);
    expect(r.path).toBe('/rules/0/severity');
  });

  it('refuses unknown fields, bad JSON, a policy for another guest and duplicate rule names', () => {
    expect(refusal(() => parsePolicy(JSON.stringify({ ...good, extra: 1 }), 'web-1')).path).toBe('/extra');
    expect(refusal(() => parsePolicy('{"version":', 'web-1')).code).toBe(AgentErrors.POLICY_INVALID.code);
    expect(refusal(() => parsePolicy(JSON.stringify(good), 'db-1')).path).toBe('/guest');
    const twice = { ...good, rules: [good.rules[0], good.rules[0]] };
    expect(refusal(() => parsePolicy(JSON.stringify(twice), 'web-1')).path).toBe('/rules/1/name');
  });

  it('reports a missing file as a file error and notices when the file changes', async () => {
    await expect(loadPolicyFile(join(dir, 'absent.json'), 'web-1')).rejects.toMatchObject({ code: AgentErrors.POLICY_FILE.code });
    const path = join(dir, 'policy.json');
    writeFileSync(path, JSON.stringify(good));
    const changed = new Promise<void>((resolve) => {
      const w = watchPolicyFile(
        path,
        () => {
          w.close();
          resolve();
        },
        20,
      );
    });
    await new Promise((r) => setTimeout(r, 50));
    writeFileSync(path, JSON.stringify({ ...good, mode: 'enforce' }));
    await changed;
    expect((await loadPolicyFile(path, 'web-1')).policy.mode).toBe('enforce');
  });
});
