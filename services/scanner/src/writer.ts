import type { FindingEvidence, KernelSymbols, TrapEvent } from '@vmi/contracts';
import { inText, type TextRange } from './pointer-checks.js';

type ResolvedWriter = FindingEvidence['writer'];

const USER_END = 0x0000_8000_0000_0000n;
const MODULES_START = 0xffff_ffff_a000_0000n;
const MODULES_END = 0xffff_ffff_ff00_0000n;

/**
 * Who wrote: the instruction pointer at the stop names the writer. The stop comes after the store,
 * so rip is the next instruction; `rip - 1` is still inside the writing function even when the
 * store was its last instruction.
 */
export function resolveWriter(writer: TrapEvent['writer'] | null, symbols: KernelSymbols, text: readonly TextRange[]): ResolvedWriter {
  const none: ResolvedWriter = { rip: null, cr3: null, vcpu: null, kind: 'unknown', symbol: null, module: null };
  if (writer === null || writer.rip === null) return { ...none, cr3: writer?.cr3 ?? null, vcpu: writer?.vcpu ?? null };
  const rip = BigInt(writer.rip);
  const base = { rip: writer.rip, cr3: writer.cr3, vcpu: writer.vcpu };
  if (rip < USER_END) return { ...base, kind: 'user', symbol: null, module: null };
  const at = rip > 0n ? rip - 1n : rip;
  const range = inText(at, text);
  const found = symbols.symbolize(at);
  const named = found === null ? null : `${found.symbol.name}+0x${(found.offset + (rip - at)).toString(16)}`;
  if (range !== null && range.module === null) return { ...base, kind: 'kernel', symbol: named, module: null };
  // Module code is named by its nearest symbol's module: ranges built from symbols are approximate.
  const owner = found?.symbol.module ?? range?.module ?? null;
  if (range !== null) return { ...base, kind: 'module', symbol: named, module: owner };
  if (at >= MODULES_START && at < MODULES_END) {
    // A module loaded after the profile was taken: its code is module code, its name unknown.
    const known = found !== null && found.symbol.module !== null && found.offset < 0x10000n;
    return { ...base, kind: 'module', symbol: known ? named : null, module: known ? (found?.symbol.module ?? null) : null };
  }
  return { ...base, kind: 'unknown', symbol: null, module: null };
}

/** Kernel text, and the text of every module the profile knows, as address ranges. */
export function textRanges(
  symbols: KernelSymbols,
  moduleSymbols: ReadonlyArray<{ module: string; start: bigint; end: bigint }>,
): TextRange[] {
  const out: TextRange[] = [];
  const s = symbols.address('_stext');
  const e = symbols.address('_etext');
  if (s !== undefined && e !== undefined) out.push({ start: s, end: e, module: null });
  for (const m of moduleSymbols) out.push({ start: m.start, end: m.end, module: m.module });
  return out;
}
