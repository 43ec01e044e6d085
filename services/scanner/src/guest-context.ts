import { readFile } from 'node:fs/promises';
import { KernelSymbols, type ProtectedGuestRecord } from '@vmi/contracts';
import type { GuestReader } from './guest-reader.js';
import type { TextRange } from './pointer-checks.js';
import { textRanges } from './writer.js';

export interface GuestContext {
  readonly record: ProtectedGuestRecord;
  readonly reader: GuestReader;
  readonly symbols: KernelSymbols;
  /** Kernel text and the text of trusted modules: where dispatch entries may point. */
  readonly text: readonly TextRange[];
  /** Every module the profile knows, trusted or not: who-data only. */
  readonly modules: ReadonlyArray<{ module: string; start: bigint; end: bigint }>;
}

export type OpenReader = (guest: ProtectedGuestRecord) => Promise<GuestReader>;

/**
 * Per-guest resources built from the agent's guest record: a reader of its RAM file and its
 * kernel's symbols. Rebuilt when the record points somewhere else (QEMU restarted elsewhere).
 */
export class GuestContexts {
  private readonly contexts = new Map<string, Promise<GuestContext>>();
  private readonly keys = new Map<string, string>();

  constructor(
    private readonly openReader: OpenReader,
    private readonly trustedModules: readonly string[] = [],
  ) {}

  get(record: ProtectedGuestRecord): Promise<GuestContext> {
    const key = `${record.ram_file}\u0000${record.profile_file}\u0000${record.generation_table ?? ''}`;
    const existing = this.contexts.get(record.guest);
    if (existing !== undefined && this.keys.get(record.guest) === key) return existing;
    if (existing !== undefined) void existing.then((c) => c.reader.close()).catch(() => undefined);
    const created = this.build(record);
    this.contexts.set(record.guest, created);
    this.keys.set(record.guest, key);
    created.catch(() => {
      // Let the next trap try again instead of caching the failure.
      if (this.contexts.get(record.guest) === created) this.contexts.delete(record.guest);
    });
    return created;
  }

  private async build(record: ProtectedGuestRecord): Promise<GuestContext> {
    const symbols = KernelSymbols.parse(await readFile(record.profile_file, 'utf8'));
    const reader = await this.openReader(record);
    const trusted = symbols.moduleTextRanges().filter((m) => this.trustedModules.includes(m.module));
    return { record, reader, symbols, text: textRanges(symbols, trusted), modules: symbols.moduleTextRanges() };
  }

  async close(): Promise<void> {
    const all = [...this.contexts.values()];
    this.contexts.clear();
    for (const c of await Promise.allSettled(all)) if (c.status === 'fulfilled') c.value.reader.close();
  }
}
