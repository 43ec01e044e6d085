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
/** Text, or of unknown kind (a bare name map has no types): a writer may be there. */
const isText = (type: string) => TEXT_TYPES.has(type) || type === '?';
const KALLSYMS_LINE = /^([0-9a-fA-F]{1,16})\s+(\S)\s+(\S+)(?:\s+\[([^\]]+)\])?\s*$/;

/**
 * A guest kernel's symbols, read from a symbol profile: a JSON document whose `symbols` is a list of
 * `{name, address, type?, module?}` (or a name -> address map), or the text of `/proc/kallsyms`.
 * Optional JSON fields: `page_offset_base`, `phys_base`, `nr_syscalls` (or `syscall_count`).
 *
 * Kept in a few flat arrays rather than one object per symbol: a kernel has some 80,000 symbols, and
 * as objects (each with a name string and a bigint) they were most of a service's heap, marked again
 * at every full collection, for tables that are only ever searched.
 */
export class KernelSymbols {
  /** Every symbol's name, back to back; symbol i's is `names.slice(nameStart[i], nameStart[i + 1])`. */
  private readonly names: string;
  private readonly nameStart: Uint32Array;
  private readonly addresses: BigUint64Array;
  /** kallsyms type letters as char codes. */
  private readonly types: Uint8Array;
  /** 1 + index into `moduleNames`, 0 for the kernel image. */
  private readonly moduleOf: Uint16Array;
  private readonly moduleNames: string[];
  /** The first definition of each name, sorted by name. */
  private readonly byName: Uint32Array;
  /** Symbols with an address, sorted by it (equal addresses in profile order). */
  private readonly all: Uint32Array;
  /** The text symbols of `all`, for instruction-pointer lookups. */
  private readonly text: Uint32Array;
  readonly pageOffsetBase: bigint | undefined;
  readonly physBase: bigint | undefined;
  readonly syscallCount: number | undefined;

  constructor(symbols: readonly KernelSymbol[], extra: { pageOffsetBase?: bigint; physBase?: bigint; syscallCount?: number } = {}) {
    const n = symbols.length;
    this.nameStart = new Uint32Array(n + 1);
    this.addresses = new BigUint64Array(n);
    this.types = new Uint8Array(n);
    this.moduleOf = new Uint16Array(n);
    this.moduleNames = [];
    const moduleIndex = new Map<string, number>();
    const parts: string[] = [];
    let offset = 0;
    symbols.forEach((sym, i) => {
      parts.push(sym.name);
      this.nameStart[i] = offset;
      offset += sym.name.length;
      this.addresses[i] = sym.address;
      this.types[i] = sym.type.charCodeAt(0) || 63;
      if (sym.module !== null) {
        let m = moduleIndex.get(sym.module);
        if (m === undefined) {
          m = this.moduleNames.push(sym.module);
          moduleIndex.set(sym.module, m);
        }
        this.moduleOf[i] = m;
      }
    });
    this.nameStart[n] = offset;
    this.names = parts.join('');

    // The first definition wins: kallsyms lists the kernel image before modules.
    const seen = new Set<string>();
    const firsts: number[] = [];
    symbols.forEach((sym, i) => {
      if (seen.has(sym.name)) return;
      seen.add(sym.name);
      firsts.push(i);
    });
    const byNameCmp = (a: number, b: number) => {
      const x = (symbols[a] as KernelSymbol).name;
      const y = (symbols[b] as KernelSymbol).name;
      return x < y ? -1 : x > y ? 1 : 0;
    };
    this.byName = Uint32Array.from(firsts.sort(byNameCmp));

    const byAddress = (a: number, b: number) => {
      const x = (symbols[a] as KernelSymbol).address;
      const y = (symbols[b] as KernelSymbol).address;
      return x < y ? -1 : x > y ? 1 : 0;
    };
    const withAddress = [...symbols.keys()].filter((i) => (symbols[i] as KernelSymbol).address !== 0n).sort(byAddress);
    this.all = Uint32Array.from(withAddress);
    this.text = Uint32Array.from(withAddress.filter((i) => isText((symbols[i] as KernelSymbol).type)));
    this.pageOffsetBase = extra.pageOffsetBase;
    this.physBase = extra.physBase;
    this.syscallCount = extra.syscallCount;
  }

  get size(): number {
    return this.byName.length;
  }

  address(name: string): bigint | undefined {
    let lo = 0;
    let hi = this.byName.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const i = this.byName[mid] as number;
      const other = this.nameOf(i);
      if (other === name) return this.addresses[i];
      if (other < name) lo = mid + 1;
      else hi = mid;
    }
    return undefined;
  }

  /** The first symbol strictly above `address`. */
  nextAbove(address: bigint): bigint | undefined {
    const at = this.upperBound(this.all, address);
    return at < this.all.length ? this.addresses[this.all[at] as number] : undefined;
  }

  /** The text symbol at or below `address`, with the offset into it. */
  symbolize(address: bigint): { symbol: KernelSymbol; offset: bigint } | null {
    const at = this.upperBound(this.text, address);
    if (at === 0) return null;
    const symbol = this.symbolAt(this.text[at - 1] as number);
    return { symbol, offset: address - symbol.address };
  }

  /**
   * Each module's text as a range, from its lowest to its highest text symbol plus one page (the
   * profile has no symbol sizes; a page past the last symbol bounds the last function).
   */
  moduleTextRanges(): Array<{ module: string; start: bigint; end: bigint }> {
    const ranges = new Map<string, { start: bigint; end: bigint }>();
    for (const i of this.text) {
      const m = this.moduleOf[i] as number;
      if (m === 0) continue;
      const module = this.moduleNames[m - 1] as string;
      const address = this.addresses[i] as bigint;
      const r = ranges.get(module);
      if (r === undefined) ranges.set(module, { start: address, end: address + 4096n });
      else {
        if (address < r.start) r.start = address;
        if (address + 4096n > r.end) r.end = address + 4096n;
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

  private nameOf(i: number): string {
    return this.names.slice(this.nameStart[i], this.nameStart[i + 1]);
  }

  private symbolAt(i: number): KernelSymbol {
    const m = this.moduleOf[i] as number;
    return {
      name: this.nameOf(i),
      address: this.addresses[i] as bigint,
      type: String.fromCharCode(this.types[i] as number),
      module: m === 0 ? null : (this.moduleNames[m - 1] as string),
    };
  }

  /** How many of the symbols `order` lists (sorted by address) lie at or below `address`. */
  private upperBound(order: Uint32Array, address: bigint): number {
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.addresses[order[mid] as number] as bigint) <= address) lo = mid + 1;
      else hi = mid;
    }
    return lo;
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
