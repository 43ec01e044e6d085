import { GuestErrors, VmiError } from '@vmi/contracts';
import { runCommand } from './run-command.js';

const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;

/** The subset of `names` that dpkg reports installed, in one dpkg-query call. */
async function installedPackages(names: readonly string[]): Promise<Set<string>> {
  // dpkg-query exits non-zero when any name is unknown, yet still prints the known ones.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own field syntax, not a template.
  const output = await runCommand('dpkg-query', ['-W', '-f=${Package} ${Status}\n', ...names], { allowFailure: true });
  const installed = new Set<string>();
  for (const line of output.split('\n')) {
    const [name, ...status] = line.trim().split(' ');
    if (name && status.join(' ') === 'install ok installed') installed.add(name.split(':')[0] ?? name);
  }
  return installed;
}

/**
 * Installs the Debian packages that are missing, with apt. The package lists are refreshed only
 * when apt cannot find a package, because a refresh costs more than most installs.
 */
export async function ensureDebianPackages(names: readonly string[], log: (text: string) => void = () => {}): Promise<string[]> {
  for (const name of names) {
    if (!PACKAGE_NAME.test(name)) throw new VmiError(GuestErrors.INVALID_ARGUMENT, `not a Debian package name: ${name}`);
  }
  const installed = await installedPackages(names);
  const missing = names.filter((name) => !installed.has(name));
  if (missing.length === 0) return [];
  if (process.getuid?.() !== 0) {
    throw new VmiError(GuestErrors.PACKAGE_INSTALL, `missing packages ${missing.join(' ')}; installing them needs root`, {
      details: { missing },
    });
  }
  log(`installing ${missing.join(' ')}\n`);
  const install = (): Promise<string> =>
    runCommand('apt-get', ['-o', 'DPkg::Lock::Timeout=900', 'install', '-y', '--no-install-recommends', ...missing], {
      env: { DEBIAN_FRONTEND: 'noninteractive' },
      onOutput: log,
      error: GuestErrors.PACKAGE_INSTALL,
    });
  try {
    await install();
  } catch (error) {
    const output = String((error as VmiError).details?.output ?? '');
    if (!/Unable to locate package|has no installation candidate|404\s+Not Found/i.test(output)) throw error;
    await runCommand('apt-get', ['-o', 'DPkg::Lock::Timeout=900', 'update'], { onOutput: log, error: GuestErrors.PACKAGE_INSTALL });
    await install();
  }
  return missing;
}
