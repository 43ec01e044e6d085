import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GuestErrors, VmiError } from '@vmi/contracts';
import { bootGuest } from '../launcher/launch-guest.js';
import { type GuestProfile, guestProfileValidator } from '../profile/guest-profile.js';
import type { GuestImageFiles } from './guest-image.js';

const START_KERNEL_MAP = 0xffffffff80000000n;
const KALLSYMS_LINE = /^([0-9a-f]{16}) ([A-Za-z]) (\S+)(?:\t\[(\S+)\])?$/;
const REQUIRED = [
  'sys_call_table',
  'idt_table',
  '_stext',
  '_etext',
  'modprobe_path',
  'core_pattern',
  'linux_banner',
  'page_offset_base',
  'phys_base',
];

export interface ParsedKallsyms {
  readonly symbols: Record<string, string>;
  readonly modules: Record<string, Record<string, string>>;
}

/** Parses /proc/kallsyms text; the first of several same-named symbols wins. */
export function parseKallsyms(text: string): ParsedKallsyms {
  const symbols: Record<string, string> = Object.create(null);
  const modules: Record<string, Record<string, string>> = Object.create(null);
  let nonZero = 0;
  for (const line of text.split('\n')) {
    const match = KALLSYMS_LINE.exec(line);
    if (!match) continue;
    const [, address = '', , name = '', module] = match;
    const hex = `0x${BigInt(`0x${address}`).toString(16)}`;
    if (hex !== '0x0') nonZero++;
    let table = symbols;
    if (module !== undefined) {
      table = modules[module] ?? (Object.create(null) as Record<string, string>);
      modules[module] = table;
    }
    if (!(name in table)) table[name] = hex;
  }
  if (nonZero === 0) throw new VmiError(GuestErrors.IMAGE_BUILD, 'kallsyms shows no addresses (kptr_restrict?)');
  for (const name of REQUIRED) {
    if (!(name in symbols)) throw new VmiError(GuestErrors.IMAGE_BUILD, `kallsyms lacks ${name}`);
  }
  return { symbols: { ...symbols }, modules: Object.fromEntries(Object.entries(modules).map(([k, v]) => [k, { ...v }])) };
}

async function readGzipWhenComplete(path: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (existsSync(path)) return gunzipSync(readFileSync(path)).toString('utf8');
    } catch {
      // Still arriving: the serial port drains after the writer has finished.
    }
    if (Date.now() > deadline) throw new VmiError(GuestErrors.IMAGE_BUILD, 'kallsyms dump never completed');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function sym(parsed: ParsedKallsyms, name: string): string {
  return parsed.symbols[name] ?? '0x0';
}

/**
 * Boots the freshly built image once and records its symbol profile: the symbol table from the
 * guest's own /proc/kallsyms (sent gzip'd over a second serial port, the control console is far
 * slower for bulk), the banner from /proc/version, and the kernel layout read back through the
 * shared RAM file, which also proves the image-to-physical arithmetic the profile promises.
 */
export async function recordProfile(files: GuestImageFiles, workDir: string, log: (text: string) => void): Promise<GuestProfile> {
  const dumpPath = join(workDir, 'kallsyms.gz');
  const guest = await bootGuest(files, undefined, { name: 'profile', gdb: false, qmpSockets: 0, dataSerialPath: dumpPath });
  try {
    log(`profile guest up: ${guest.kernelRelease}\n`);
    const version = await guest.exec('cat /proc/version', { timeoutMs: 30_000 });
    if (version.exitCode !== 0) throw new VmiError(GuestErrors.IMAGE_BUILD, 'cannot read /proc/version in the guest');
    const dump = await guest.exec('stty -F /dev/ttyS1 raw -echo && gzip -1 -c /proc/kallsyms > /dev/ttyS1', { timeoutMs: 300_000 });
    if (dump.exitCode !== 0) throw new VmiError(GuestErrors.IMAGE_BUILD, `kallsyms dump failed: ${dump.output.slice(-500)}`);
    const parsed = parseKallsyms(await readGzipWhenComplete(dumpPath, 60_000));
    log(`kallsyms: ${Object.keys(parsed.symbols).length} kernel symbols, modules ${Object.keys(parsed.modules).join(', ')}\n`);

    const physBaseVa = BigInt(sym(parsed, 'phys_base'));
    const physBase = (await guest.readPhysical(physBaseVa - START_KERNEL_MAP, 8)).readBigUInt64LE(0);
    const toPhys = (va: bigint): bigint => va - START_KERNEL_MAP + physBase;
    const pageOffsetBase = (await guest.readPhysical(toPhys(BigInt(sym(parsed, 'page_offset_base'))), 8)).readBigUInt64LE(0);
    const banner = version.output;
    const inRam = await guest.readPhysical(toPhys(BigInt(sym(parsed, 'linux_banner'))), Buffer.byteLength(banner));
    if (inRam.toString('utf8') !== banner) {
      throw new VmiError(GuestErrors.IMAGE_BUILD, 'linux_banner read through the RAM file does not match /proc/version', {
        details: { physBase: `0x${physBase.toString(16)}` },
      });
    }
    const hex = (v: bigint): string => `0x${v.toString(16)}`;
    return guestProfileValidator.parse({
      format: 'vmi-guest-profile/1',
      kernelVersion: guest.kernelRelease,
      banner,
      startKernelMap: hex(START_KERNEL_MAP),
      physBase: hex(physBase),
      pageOffsetBase: hex(pageOffsetBase),
      sysCallTable: sym(parsed, 'sys_call_table'),
      idtTable: sym(parsed, 'idt_table'),
      stext: sym(parsed, '_stext'),
      etext: sym(parsed, '_etext'),
      modprobePath: sym(parsed, 'modprobe_path'),
      corePattern: sym(parsed, 'core_pattern'),
      linuxBanner: sym(parsed, 'linux_banner'),
      symbols: parsed.symbols,
      modules: parsed.modules,
      createdAt: new Date().toISOString(),
    } satisfies GuestProfile);
  } finally {
    await guest.close();
  }
}
