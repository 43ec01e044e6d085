// biome-ignore-all lint/suspicious/noTemplateCurlyInString: manifests use ${...} placeholders, filled in by the isolation service
import type { IsolationManifest } from '@vmi/contracts';
import { describe, expect, it } from 'vitest';
import { defaultManifest, withoutUffdShim } from '../test-support.js';
import { parseManifest } from './load.js';

type Change = (m: IsolationManifest) => void;

async function shimManifest(change: Change = () => undefined): Promise<string> {
  const m = structuredClone(await defaultManifest());
  change(m);
  return JSON.stringify(m);
}

function deviceModel(m: IsolationManifest) {
  const dm = m.components[0];
  if (dm?.program.kind !== 'device-model' || dm.program.uffd_shim === undefined) throw new Error('no shimmed device model');
  return { dm, shim: dm.program.uffd_shim };
}

describe('the userfaultfd shim in a manifest', () => {
  it('is accepted with its own socket resource, the library granted and userfaultfd allowed', async () => {
    const loaded = await parseManifest(await shimManifest());
    expect(deviceModel(loaded.manifest).shim.socket).toBe('${resource.uffd}/uffd.sock');
  });

  it('is optional: without it no component may call userfaultfd and none is granted its socket', async () => {
    const loaded = await parseManifest(JSON.stringify(withoutUffdShim(await defaultManifest())));
    for (const c of loaded.manifest.components) {
      expect(c.program.kind === 'device-model' ? c.program.uffd_shim : undefined).toBeUndefined();
      expect(c.profile.seccomp.allow).not.toContain('@uffd-shim');
    }
    expect(loaded.manifest.endpoints.uffd_socket).toBeUndefined();
  });

  it.each<[string, Change, string, string]>([
    [
      'userfaultfd allowed to a component without the shim',
      (m) => m.components[1]?.profile.seccomp.allow.push('userfaultfd'),
      '/components/1/profile/seccomp/allow',
      'only a device model with uffd_shim',
    ],
    [
      'the shim without userfaultfd in the filter',
      (m) => {
        const { dm } = deviceModel(m);
        dm.profile.seccomp.allow = dm.profile.seccomp.allow.filter((s) => s !== '@uffd-shim');
      },
      '/components/0/profile/seccomp/allow',
      'must allow "userfaultfd"',
    ],
    [
      'the shim without its library granted',
      (m) => {
        const { dm } = deviceModel(m);
        dm.profile.paths = dm.profile.paths.filter((g) => g.kind !== 'host' || g.path !== '${uffd.shim}');
      },
      '/components/0/profile/paths',
      'must grant the shim library',
    ],
    [
      'the socket in a resource another component is granted',
      (m) => {
        deviceModel(m).shim.socket = '${resource.input}/uffd.sock';
      },
      '/components/0/program/uffd_shim/socket',
      'must not be granted to another component ("input-proxy"',
    ],
    [
      'the socket outside any resource',
      (m) => {
        deviceModel(m).shim.socket = '/tmp/uffd.sock';
      },
      '/components/0/program/uffd_shim/socket',
      'must be a file directly in a resource',
    ],
  ])('refuses %s', async (_what, change, path, reason) => {
    await expect(parseManifest(await shimManifest(change))).rejects.toMatchObject({
      code: 'VMI_ERR_ISOLATION_MANIFEST',
      path,
      message: expect.stringContaining(reason),
    });
  });
});
