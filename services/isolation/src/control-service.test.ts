// biome-ignore-all lint/suspicious/noTemplateCurlyInString: manifests use ${...} placeholders
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifest } from './manifest/load.js';
import { defaultManifest, type Harness, probeOnly, startHarness } from './test-support.js';

describe('control service and manifest validation', () => {
  let h: Harness;
  let call: (endpoint: string, body: unknown) => Promise<{ error: string | null; body: Record<string, unknown> }>;
  beforeAll(async () => {
    h = await startHarness({ manifest: probeOnly(await defaultManifest()) });
    const root = `${h.subjects.control('isolation')}.test-host`;
    call = async (endpoint, body) => {
      const reply = await h.nc.request(`${root}.${endpoint}`, JSON.stringify(body), { timeout: 20_000 });
      return { error: reply.headers?.get('Nats-Service-Error-Code') || null, body: reply.json<Record<string, unknown>>() };
    };
  });
  afterAll(async () => {
    await h?.close();
  });

  it('ensures, inspects, restarts and stops kernel VMs over NATS', async () => {
    const ensured = await call('ensure', { guest: 'ctl-1' });
    expect(ensured.error).toBeNull();
    expect(ensured.body).toMatchObject({ guest: 'ctl-1', state: 'running' });
    const inspected = await call('inspect', { guest: 'ctl-1' });
    expect(inspected.body.id).toBe(ensured.body.id);
    const restarted = await call('restart', { guest: 'ctl-1', component: 'probe' });
    expect(restarted.body).toMatchObject({ state: 'running', components: [{ name: 'probe', restarts: 1 }] });
    expect((await call('list', {})).body.kernel_vms).toHaveLength(1);
    expect((await call('stop', { guest: 'ctl-1' })).body).toMatchObject({ state: 'stopped' });
    const gone = await call('inspect', { guest: 'ctl-1' });
    expect(gone.error).toBe('404');
    expect(gone.body.code).toBe('VMI_ERR_ISOLATION_UNKNOWN_GUEST');
  });

  it('refuses a malformed request with the field that is wrong', async () => {
    const bad = await call('restart', { guest: 'ctl-1', component: 'Not/A/Name' });
    expect(bad.error).toBe('400');
    expect(bad.body).toMatchObject({ code: 'VMI_ERR_VALIDATION', path: '/component' });
  });

  it('refuses a malformed manifest with the field and the reason, and keeps serving with the current one', async () => {
    const good = probeOnly(await defaultManifest());
    const broken = structuredClone(good);
    (broken.components[0] as { profile: { seccomp: { allow: string[] } } }).profile.seccomp.allow.push('not_a_syscall');
    await writeFile(h.manifestFile, JSON.stringify(broken));
    const refused = await call('reload-manifest', {});
    expect(refused.error).toBe('400');
    expect(refused.body).toMatchObject({ code: 'VMI_ERR_ISOLATION_MANIFEST', path: '/components/0/profile/seccomp/allow/17' });
    expect(String(refused.body.message)).toContain('libseccomp does not know');
    expect(h.service.manifestRejections.count).toBe(1);
    // Still running, still on the manifest it had.
    expect((await call('ensure', { guest: 'ctl-2' })).body).toMatchObject({ state: 'running' });
    await writeFile(h.manifestFile, JSON.stringify(good));
    expect((await call('reload-manifest', {})).body).toMatchObject({ components: ['probe'] });
  });

  it.each([
    ['not JSON', (m: Record<string, unknown>) => `${JSON.stringify(m)}}`, '', 'is not valid JSON'],
    [
      'a missing namespace',
      (m: Record<string, unknown>) => set(m, ['components', 0, 'profile', 'namespaces'], ['user', 'pid']),
      '/components/0/profile/namespaces',
      'must include "mount"',
    ],
    [
      'an unknown resource',
      (m: Record<string, unknown>) => set(m, ['components', 0, 'profile', 'paths', 1, 'resource'], 'nowhere'),
      '/components/0/profile/paths/1/resource',
      'unknown resource',
    ],
    [
      'an IP socket family',
      (m: Record<string, unknown>) => set(m, ['components', 0, 'profile', 'socket_families'], ['unix', 'inet']),
      '/components/0/profile/socket_families/1',
      'IP sockets',
    ],
    [
      'an unknown placeholder',
      (m: Record<string, unknown>) => set(m, ['components', 0, 'program', 'args', 0], '${secret}'),
      '/components/0/program/args/0',
      'unknown placeholder',
    ],
    [
      'a string for the pid limit',
      (m: Record<string, unknown>) => set(m, ['components', 0, 'profile', 'limits', 'pids'], 'many'),
      '/components/0/profile/limits/pids',
      'integer',
    ],
  ])('refuses a manifest with %s', async (_what, change, path, reason) => {
    const base = probeOnly(await defaultManifest()) as unknown as Record<string, unknown>;
    const text = typeof change(base) === 'string' ? (change(base) as string) : JSON.stringify(change(base));
    await expect(parseManifest(text)).rejects.toMatchObject({
      code: 'VMI_ERR_ISOLATION_MANIFEST',
      path,
      message: expect.stringContaining(reason),
    });
  });
});

function set(value: Record<string, unknown>, path: (string | number)[], field: unknown): Record<string, unknown> {
  const copy = structuredClone(value);
  let at = copy as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
  at[path.at(-1) as string | number] = field;
  return copy;
}
