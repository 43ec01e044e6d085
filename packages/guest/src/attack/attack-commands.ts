import { GuestErrors, VmiError } from '@vmi/contracts';
import type { Guest } from '../launcher/launch-guest.js';
import type { GuestProfile } from '../profile/guest-profile.js';

/**
 * Guest shell commands that drive the vmi_attack module (/proc/vmi_attack) and the attack
 * programs. Each returns a command line for `guest.exec`; the module answers a bad request with a
 * failed write (non-zero exit code) and reports what it did through `readAttackStatus`.
 */
export type WriteAlias = 'image' | 'direct' | 'vmap';

const CONTROL = '/proc/vmi_attack';
const STORE_TIMES = '/proc/vmi_store_ns';
/** The most stores one `timeStores` command may time (the module keeps that many durations). */
const MAX_TIMED_STORES = 10_000;
const hex = (value: bigint): string => `0x${value.toString(16)}`;

function checkAddress(address: bigint): void {
  if (address < 0n || address > 0xffffffffffffffffn)
    throw new VmiError(GuestErrors.INVALID_ARGUMENT, 'address outside 64 bits', { path: '/address' });
}

function checkCount(count: number): void {
  if (!Number.isInteger(count) || count < 1 || count > 1_000_000) {
    throw new VmiError(GuestErrors.INVALID_ARGUMENT, 'count must be an integer from 1 to 1000000', { path: '/count' });
  }
}

function control(request: string): string {
  return `echo '${request}' > ${CONTROL}`;
}

export const attackCommands = {
  /** `count` stores of `value` (`width` bytes) at `address`, through the chosen virtual alias. */
  poke(address: bigint, value: bigint, width: 1 | 2 | 4 | 8, alias: WriteAlias, count = 1): string {
    checkAddress(address);
    checkCount(count);
    if (value < 0n || value >= 1n << BigInt(width * 8))
      throw new VmiError(GuestErrors.INVALID_ARGUMENT, 'value does not fit the width', { path: '/value' });
    return control(`poke ${hex(address)} ${hex(value)} ${width} ${alias} ${count}`);
  },
  /** Points `sys_call_table[nr]` at a function inside the module. */
  hookSyscall(profile: GuestProfile, nr: number, alias: WriteAlias): string {
    if (!Number.isInteger(nr) || nr < 0 || nr >= 1024)
      throw new VmiError(GuestErrors.INVALID_ARGUMENT, 'syscall number out of range', { path: '/nr' });
    return control(`hook-syscall ${profile.sysCallTable} ${nr} ${alias}`);
  },
  /** Points the IDT gate of `vector` at a function inside the module. */
  hookIdt(profile: GuestProfile, vector: number, alias: WriteAlias): string {
    if (!Number.isInteger(vector) || vector < 0 || vector > 255)
      throw new VmiError(GuestErrors.INVALID_ARGUMENT, 'vector out of range', { path: '/vector' });
    return control(`hook-idt ${profile.idtTable} ${vector} ${alias}`);
  },
  /** XORs one byte of kernel text with `mask` (default 0xff). */
  patchText(address: bigint, alias: WriteAlias, mask = 0xff): string {
    checkAddress(address);
    if (!Number.isInteger(mask) || mask < 1 || mask > 0xff)
      throw new VmiError(GuestErrors.INVALID_ARGUMENT, 'mask must be 1..255', { path: '/mask' });
    return control(`patch-text ${hex(address)} ${alias} 0x${mask.toString(16)}`);
  },
  /** `count` separate 8-byte stores (values 1..count) to a writable, 8-byte aligned kernel address. */
  burst(address: bigint, count: number): string {
    checkAddress(address);
    checkCount(count);
    return control(`burst ${hex(address)} ${count}`);
  },
  /**
   * `count` single 8-byte stores (new values each) to a writable, 8-byte aligned kernel address,
   * `gapUs` apart, each timed by the guest's own clock; `readStoreTimes` returns the durations.
   */
  timeStores(address: bigint, count: number, gapUs: number): string {
    checkAddress(address);
    if (!Number.isInteger(count) || count < 1 || count > MAX_TIMED_STORES) {
      throw new VmiError(GuestErrors.INVALID_ARGUMENT, `count must be an integer from 1 to ${MAX_TIMED_STORES}`, { path: '/count' });
    }
    if (!Number.isInteger(gapUs) || gapUs < 0 || gapUs > 1_000_000)
      throw new VmiError(GuestErrors.INVALID_ARGUMENT, 'gapUs must be 0..1000000', { path: '/gapUs' });
    return control(`time-stores ${hex(address)} ${count} ${gapUs}`);
  },
  /** Rewrites the module's 64 KiB two-halves buffer for `seconds` (0 stops it). */
  halves(seconds: number): string {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > 3600)
      throw new VmiError(GuestErrors.INVALID_ARGUMENT, 'seconds must be 0..3600', { path: '/seconds' });
    return control(`halves ${seconds}`);
  },
  /** Undoes every change the module made, newest first, through the alias each used. */
  restore(): string {
    return control('restore');
  },
  /** Overwrites kernel.modprobe_path and kernel.core_pattern through /proc/sys (defaults: attacker values). */
  sysctlAttack(target?: { name: 'modprobe_path' | 'core_pattern'; value: string }): string {
    if (!target) return 'sysctl-attack';
    if (!/^[\x21-\x7e][\x20-\x7e]{0,200}$/.test(target.value) || target.value.includes("'")) {
      throw new VmiError(GuestErrors.INVALID_ARGUMENT, 'value must be printable and without quotes', { path: '/value' });
    }
    return `sysctl-attack ${target.name} '${target.value}'`;
  },
};

/** What the module reports: addresses of its hook targets, burst target, halves buffer, last result. */
export interface AttackStatus {
  readonly hookSyscall: bigint;
  readonly hookHandler: bigint;
  readonly burstTarget: bigint;
  readonly burstTargetPhys: bigint;
  readonly halves:
    | { readonly va: bigint; readonly phys: bigint; readonly length: number; readonly running: boolean; readonly rounds: number }
    | undefined;
  readonly changes: number;
  readonly last: string;
}

export async function readAttackStatus(guest: Guest): Promise<AttackStatus> {
  const { output, exitCode } = await guest.exec(`cat ${CONTROL}`, { timeoutMs: 30_000 });
  if (exitCode !== 0) throw new VmiError(GuestErrors.EXITED, 'the attack module is not loaded');
  const fields = new Map<string, string>();
  for (const line of output.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const big = (key: string): bigint => {
    const value = fields.get(key);
    if (value === undefined || !/^0x[0-9a-f]+$/.test(value)) throw new VmiError(GuestErrors.GUEST_OUTPUT, `attack status lacks ${key}`);
    return BigInt(value);
  };
  return {
    hookSyscall: big('hook_syscall'),
    hookHandler: big('hook_handler'),
    burstTarget: big('burst_target'),
    burstTargetPhys: big('burst_target_phys'),
    halves: fields.has('halves_va')
      ? {
          va: big('halves_va'),
          phys: big('halves_phys'),
          length: Number(fields.get('halves_len')),
          running: fields.get('halves_running') === '1',
          rounds: Number(fields.get('halves_rounds')),
        }
      : undefined,
    changes: Number(fields.get('changes') ?? 0),
    last: fields.get('last') ?? '',
  };
}

/** Durations of the last `timeStores` command, in nanoseconds of the guest's clock, in store order. */
export async function readStoreTimes(guest: Guest): Promise<number[]> {
  const { output, exitCode } = await guest.exec(`cat ${STORE_TIMES}`, { timeoutMs: 30_000 });
  if (exitCode !== 0) throw new VmiError(GuestErrors.EXITED, 'the attack module is not loaded');
  const lines = output.split('\n').filter((line) => line.length > 0);
  return lines.map((line) => {
    if (!/^\d+$/.test(line)) throw new VmiError(GuestErrors.GUEST_OUTPUT, `unexpected store time line: ${line}`);
    return Number(line);
  });
}
