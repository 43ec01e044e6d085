import { CoreErrors } from './errors/core.js';
import { VmiError } from './errors/vmi-error.js';

export interface KernelSymbol {
  readonly name: string;
  readonly address: bigint;
  /** kallsyms type letter (`T` text, `D` data, ...); `?` when unknown. */
  readonly type: string;
  /** The module owning the symbol, null for the kernel image. */
  readonly module: string | null;
}

const TEXT_TYPES = new Set(['t', 'T', 'w', 'W']);
const KALLSYMS_LINE = /^([0-9a-fA-F]{1,16})\s+(\S)\s+(\S+)(?:\s+\[([^\]]+)\])?\s*$/;

/**
 * A guest kernel's symbols, read from a symbol profile: a JSON document whose `symbols` is a list of
 * `{name, address, type?, module?}` (or a name -> address map), or the text of `/proc/kallsyms`.
 * Optional JSON fields: `page_offset_base`, `phys_base`, `nr_syscalls` (or `syscall_count`).
 */
export class KernelSymbols {
  private readonly byName = new Map<string, KernelSymbol>();
  /** Text symbols sorted by address, for instruction-pointer lookups. */
  private readonly text: KernelSymbol[];
  private readonly all: KernelSymbol[];
  readonly pageOffsetBase: bigint | undefined;
  readonly physBase: bigint | undefined;
  readonly syscallCount: number | undefined;

  constructor(symbols: readonly KernelSymbol[], extra: { pageOffsetBase?: bigint; physBase?: bigint; syscallCount?: number } = {}) {
    for (const s of symbols) {
      // The first definition wins: kallsyms lists the kernel image before modules.
      if (!this.byName.has(s.name)) this.byName.set(s.name, s);
    }
    const cmp = (a: KernelSymbol, b: KernelSymbol) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0);
    this.all = symbols.filter((s) => s.address !== 0n).sort(cmp);
    this.text = this.all.filter((s) => TEXT_TYPES.has(s.type) || s.type === '?');
    this.pageOffsetBase = extra.pageOffsetBase;
    this.physBase = extra.physBase;
    this.syscallCount = extra.syscallCount;
  }

  get size(): number {
    return this.byName.size;
  }

  address(name: string): bigint | undefined {
    return this.byName.get(name)?.address;
  }

  /** The first symbol strictly above `address`. */
  nextAbove(address: bigint): bigint | undefined {
    let lo = 0;
    let hi = this.all.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.all[mid] as KernelSymbol).address <= address) lo = mid + 1;
      else hi = mid;
    }
    return this.all[lo]?.address;
  }

  /** The text symbol at or below `address`, with the offset into it. */
  symbolize(address: bigint): { symbol: KernelSymbol; offset: bigint } | null {
    let lo = 0;
    let hi = this.text.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.text[mid] as KernelSymbol).address <= address) lo = mid + 1;
      else hi = mid;
    }
    const s = this.text[lo - 1];
    return s === undefined ? null : { symbol: s, offset: address - s.address };
  }

  /**
   * Each module's text as a range, from its lowest to its highest text symbol plus one page (the
   * profile has no symbol sizes; a page past the last symbol bounds the last function).
   */
  moduleTextRanges(): Array<{ module: string; start: bigint; end: bigint }> {
    const ranges = new Map<string, { start: bigint; end: bigint }>();
    for (const s of this.text) {
      if (s.module === null) continue;
      const r = ranges.get(s.module);
      if (r === undefined) ranges.set(s.module, { start: s.address, end: s.address + 4096n });
      else {
        if (s.address < r.start) r.start = s.address;
        if (s.address + 4096n > r.end) r.end = s.address + 4096n;
      }
    }
    // The page of slack past each module's last symbol must not reach into the next module.
    const sorted = [...ranges].map(([module, r]) => ({ module, ...r })).sort((a, b) => (a.start < b.start ? -1 : 1));
    sorted.forEach((r, i) => {
      const next = sorted[i + 1];
      if (next !== undefined && r.end > next.start) r.end = next.start;
    });
    return sorted;
  }

  /** Parses a profile (JSON or kallsyms text); throws `VMI_ERR_VALIDATION` when it holds no symbols. */
  static parse(content: string): KernelSymbols {
    const trimmed = content.trimStart();
    if (trimmed.startsWith('{')) return KernelSymbols.fromJson(JSON.parse(trimmed) as unknown);
    return new KernelSymbols(parseKallsyms(content));
  }

  private static fromJson(doc: unknown): KernelSymbols {
    if (typeof doc !== 'object' || doc === null) throw new VmiError(CoreErrors.VALIDATION, 'symbol profile: not an object');
    const d = doc as Record<string, unknown>;
    const symbols: KernelSymbol[] = [];
    const raw = d.symbols;
    if (Array.isArray(raw)) {
      raw.forEach((entry, i) => {
        const e = entry as Record<string, unknown>;
        const address = toBig(e.address ?? e.addr ?? e.value);
        if (typeof e.name !== 'string' || address === undefined) {
          throw new VmiError(CoreErrors.VALIDATION, `symbol profile: /symbols/${i} needs a name and an address`, { path: `/symbols/${i}` });
        }
        symbols.push({
          name: e.name,
          address,
          type: typeof e.type === 'string' ? e.type : '?',
          module: typeof e.module === 'string' && e.module !== '' ? e.module : null,
        });
      });
    } else if (typeof raw === 'object' && raw !== null) {
      for (const [name, value] of Object.entries(raw)) {
        const address = toBig(value);
        if (address !== undefined) symbols.push({ name, address, type: '?', module: null });
      }
    } else if (typeof d.kallsyms === 'string') {
      symbols.push(...parseKallsyms(d.kallsyms));
    }
    // Per-module symbol maps (`modules: {name: {symbol: address}}`), as the guest image records them.
    if (typeof d.modules === 'object' && d.modules !== null) {
      for (const [module, entries] of Object.entries(d.modules as Record<string, unknown>)) {
        if (typeof entries !== 'object' || entries === null) continue;
        for (const [name, value] of Object.entries(entries)) {
          const address = toBig(value);
          if (address !== undefined) symbols.push({ name, address, type: '?', module });
        }
      }
    }
    if (symbols.length === 0) throw new VmiError(CoreErrors.VALIDATION, 'symbol profile: no symbols', { path: '/symbols' });
    const count = d.nr_syscalls ?? d.syscall_count ?? d.syscallCount;
    const extra: { pageOffsetBase?: bigint; physBase?: bigint; syscallCount?: number } = {};
    const pob = toBig(d.page_offset_base ?? d.pageOffsetBase);
    const pb = toBig(d.phys_base ?? d.physBase);
    if (pob !== undefined) extra.pageOffsetBase = pob;
    if (pb !== undefined) extra.physBase = pb;
    if (typeof count === 'number' && Number.isInteger(count) && count > 0 && count <= 4096) extra.syscallCount = count;
    return new KernelSymbols(symbols, extra);
  }
}

function toBig(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === 'string' && /^(0x)?[0-9a-fA-F]{1,16}$/.test(value)) return BigInt(value.startsWith('0x') ? value : `0x${value}`);
  return undefined;
}

function parseKallsyms(text: string): KernelSymbol[] {
  const out: KernelSymbol[] = [];
  for (const line of text.split('\n')) {
    const m = KALLSYMS_LINE.exec(line);
    if (m === null) continue;
    out.push({ name: m[3] as string, address: BigInt(`0x${m[1]}`), type: m[2] as string, module: m[4] ?? null });
  }
  return out;
}
