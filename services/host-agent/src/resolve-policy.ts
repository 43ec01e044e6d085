import { AgentErrors, type Mode, type PolicyRule, type ProtectionPolicy, type RegionCheck, type Severity, VmiError } from '@vmi/contracts';
import type { Static } from 'typebox';
import { CPU_ENTRY_AREA_RO_IDT, directMapAlias, hex, imageToPhys, isImageAddress, type KernelLayout } from './kernel-addresses.js';

/** What the resolver needs from a symbol profile. */
export interface SymbolSource {
  readonly layout: KernelLayout;
  /** Number of `sys_call_table` entries, when the profile knows it. */
  readonly syscallCount: number | undefined;
  address(name: string): bigint | undefined;
  /** The address of the first symbol above `address` (used to bound tables of unknown size). */
  nextAbove(address: bigint): bigint | undefined;
}

export type MechanismChoice = 'auto' | 'watchpoint' | 'uffd-wp' | 'both';

/** One protected object: what a trap, a baseline and a check are about. */
export interface ResolvedRegion {
  readonly rule: string;
  readonly object: string;
  readonly severity: Static<typeof Severity>;
  readonly mode: Static<typeof Mode>;
  readonly check: RegionCheck;
  readonly mechanism: MechanismChoice;
  readonly physical: bigint;
  readonly length: number;
  /** The kernel-image address, or null for a bare physical range. */
  readonly virtual: bigint | null;
  /** Every virtual alias worth a watchpoint (image, direct map, CPU entry area). */
  readonly aliases: readonly bigint[];
  /** Values the object may hold: hex bytes, or the text for string targets. */
  readonly allowValues: readonly string[];
  readonly allowWriters: readonly string[];
}

const SYSCALL_ENTRY = 8;
const IDT_GATE = 16;
const IDT_ENTRIES = 256;
/** Large ranges are cut into chunks so each baseline copy fits one message. */
export const CHUNK = 64 * 1024;
const MAX_SYSCALLS = 1024;

function symbol(symbols: SymbolSource, name: string, path: string): bigint {
  const a = symbols.address(name);
  if (a === undefined) throw new VmiError(AgentErrors.SYMBOL_UNKNOWN, `${path}: ${name}`, { path });
  return a;
}

function kernelRegion(
  symbols: SymbolSource,
  base: Omit<ResolvedRegion, 'physical' | 'virtual' | 'aliases' | 'length' | 'object'>,
  object: string,
  va: bigint,
  length: number,
  extraAliases: readonly bigint[] = [],
): ResolvedRegion {
  if (!isImageAddress(va)) {
    throw new VmiError(AgentErrors.POLICY_INVALID, `${object} at ${hex(va)} is not in the kernel image`);
  }
  const physical = imageToPhys(symbols.layout, va);
  return {
    ...base,
    object,
    virtual: va,
    physical,
    length,
    aliases: [va, directMapAlias(symbols.layout, physical), ...extraAliases],
  };
}

function syscallCount(rule: PolicyRule, symbols: SymbolSource, table: bigint, path: string): number {
  if (rule.target.kind === 'table' && rule.target.entries !== undefined) return rule.target.entries;
  if (symbols.syscallCount !== undefined) return symbols.syscallCount;
  // Without a count, the table ends where the next symbol starts.
  const next = symbols.nextAbove(table);
  if (next === undefined)
    throw new VmiError(AgentErrors.POLICY_INVALID, `${path}: the syscall count is unknown; set target.entries`, { path });
  return Math.min(MAX_SYSCALLS, Number((next - table) / BigInt(SYSCALL_ENTRY)));
}

/** Resolves one rule to its protected objects. */
export function resolveRule(rule: PolicyRule, index: number, policy: ProtectionPolicy, symbols: SymbolSource): ResolvedRegion[] {
  const path = `/rules/${index}/target`;
  const base = {
    rule: rule.name,
    severity: rule.severity,
    mode: rule.mode ?? policy.mode,
    mechanism: (rule.mechanism ?? 'auto') as MechanismChoice,
    allowValues: rule.allow_values ?? [],
    allowWriters: rule.allow_writers ?? [],
  };
  const t = rule.target;
  switch (t.kind) {
    case 'symbol': {
      const va = symbol(symbols, t.symbol, `${path}/symbol`);
      const text = inKernelText(symbols, va);
      return [kernelRegion(symbols, { ...base, check: text ? 'text' : 'hash' }, t.symbol, va, t.length)];
    }
    case 'string': {
      const va = symbol(symbols, t.symbol, `${path}/symbol`);
      return [kernelRegion(symbols, { ...base, check: 'string', allowValues: t.allowed }, t.symbol, va, t.length)];
    }
    case 'symbol-range': {
      const start = symbol(symbols, t.start, `${path}/start`);
      const end = symbol(symbols, t.end, `${path}/end`);
      if (end <= start) throw new VmiError(AgentErrors.POLICY_INVALID, `${path}: ${t.end} is not above ${t.start}`, { path });
      const check: RegionCheck = t.start === '_stext' || inKernelText(symbols, start) ? 'text' : 'hash';
      const out: ResolvedRegion[] = [];
      for (let va = start; va < end; va += BigInt(CHUNK)) {
        const length = Number(end - va < BigInt(CHUNK) ? end - va : BigInt(CHUNK));
        const object = va === start && end - start <= BigInt(CHUNK) ? `${t.start}..${t.end}` : `${t.start}..${t.end}+${hex(va - start)}`;
        out.push(kernelRegion(symbols, { ...base, check }, object, va, length));
      }
      return out;
    }
    case 'table': {
      const table = symbol(symbols, t.table, `${path}/table`);
      if (t.table === 'sys_call_table') {
        const n = syscallCount(rule, symbols, table, path);
        return Array.from({ length: n }, (_, i) =>
          kernelRegion(
            symbols,
            { ...base, check: 'syscall-entry' },
            `sys_call_table[${i}]`,
            table + BigInt(i * SYSCALL_ENTRY),
            SYSCALL_ENTRY,
          ),
        );
      }
      const n = t.entries ?? IDT_ENTRIES;
      return Array.from({ length: n }, (_, i) =>
        kernelRegion(symbols, { ...base, check: 'idt-gate' }, `idt_table[${i}]`, table + BigInt(i * IDT_GATE), IDT_GATE, [
          CPU_ENTRY_AREA_RO_IDT + BigInt(i * IDT_GATE),
        ]),
      );
    }
    case 'physical': {
      const start = BigInt(t.address);
      const out: ResolvedRegion[] = [];
      for (let off = 0; off < t.length; off += CHUNK) {
        const length = Math.min(CHUNK, t.length - off);
        out.push({
          ...base,
          check: 'hash',
          object: t.length <= CHUNK ? `phys:${t.address}+${t.length}` : `phys:${t.address}+${t.length}@${hex(BigInt(off))}`,
          physical: start + BigInt(off),
          length,
          virtual: null,
          aliases: [directMapAlias(symbols.layout, start + BigInt(off))],
        });
      }
      return out;
    }
  }
}

function inKernelText(symbols: SymbolSource, va: bigint): boolean {
  const s = symbols.address('_stext');
  const e = symbols.address('_etext');
  return s !== undefined && e !== undefined && va >= s && va < e;
}

/** Resolves a whole policy; an object named twice is refused (two rules cannot own one object). */
export function resolvePolicy(policy: ProtectionPolicy, symbols: SymbolSource): ResolvedRegion[] {
  const out: ResolvedRegion[] = [];
  const seen = new Map<string, string>();
  policy.rules.forEach((rule, i) => {
    for (const r of resolveRule(rule, i, policy, symbols)) {
      const owner = seen.get(r.object);
      if (owner !== undefined) {
        throw new VmiError(AgentErrors.POLICY_INVALID, `/rules/${i}: ${r.object} is already protected by rule ${owner}`, {
          path: `/rules/${i}`,
        });
      }
      seen.set(r.object, rule.name);
      out.push(r);
    }
  });
  return out;
}
