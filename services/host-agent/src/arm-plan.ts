import type { Mechanism } from '@vmi/contracts';
import type { Static } from 'typebox';
import type { ResolvedRegion } from './resolve-policy.js';

export type MechanismName = Static<typeof Mechanism>;

/** One range handed to a trap backend. */
export interface PlannedWatch {
  readonly backend: 'gdbstub' | 'uffd';
  /** Virtual address watched (gdbstub), or the guest-physical start (uffd). */
  readonly virt: bigint;
  readonly phys: bigint;
  readonly length: number;
}

export interface ArmPlan {
  readonly watches: readonly PlannedWatch[];
  /** Mechanisms that cover each object, by object name; empty: the sweep alone covers it. */
  readonly mechanisms: ReadonlyMap<string, readonly MechanismName[]>;
  /** Why some objects got fewer mechanisms than the policy asked for. */
  readonly notes: readonly string[];
}

export interface ArmPlanOptions {
  /** Whether this guest has the userfaultfd backend (a shim handed its descriptor over). */
  readonly uffd: boolean;
  /** Most watchpoints one gdbstub takes (QEMU accepts about 1024). */
  readonly watchpointBudget: number;
}

/** The largest range one gdbstub watchpoint covers. */
const MAX_WATCH = 4096;
const MAX_UFFD_RANGE = 64 * 1024;
/** Objects larger than this stay off watchpoints under `auto`: they would eat the budget. */
const AUTO_WATCH_LIMIT = 64 * 1024;

function wanted(region: ResolvedRegion, uffd: boolean): { mechanisms: MechanismName[]; note: string | null } {
  switch (region.mechanism) {
    case 'watchpoint':
      return { mechanisms: ['watchpoint'], note: null };
    case 'uffd-wp':
      return uffd
        ? { mechanisms: ['uffd-wp'], note: null }
        : { mechanisms: ['watchpoint'], note: `${region.rule}: no physical traps on this guest; watchpoints instead` };
    case 'both':
      return uffd
        ? { mechanisms: ['watchpoint', 'uffd-wp'], note: null }
        : { mechanisms: ['watchpoint'], note: `${region.rule}: no physical traps on this guest; watchpoints only` };
    case 'auto': {
      // Physical page traps guard cold dispatch tables and text against every alias; byte
      // watchpoints add who-data (rip, cr3) where the object is small enough to afford them.
      const cold = region.check === 'syscall-entry' || region.check === 'idt-gate' || region.check === 'text';
      if (region.check === 'text' && region.length > 4096) {
        return uffd
          ? { mechanisms: ['uffd-wp'], note: null }
          : { mechanisms: [], note: `${region.rule}: kernel text without physical traps is covered by the sweep` };
      }
      if (uffd && cold) return { mechanisms: ['watchpoint', 'uffd-wp'], note: null };
      if (region.length > AUTO_WATCH_LIMIT) {
        return uffd
          ? { mechanisms: ['uffd-wp'], note: null }
          : { mechanisms: [], note: `${region.rule}: too large for watchpoints; covered by the sweep` };
      }
      return { mechanisms: ['watchpoint'], note: null };
    }
  }
}

interface Span {
  start: bigint;
  phys: bigint;
  length: number;
}

/** Joins adjacent spans (sorted by start) while the joined span stays within `max` bytes. */
function merge(spans: Span[], max: number): Span[] {
  spans.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: Span[] = [];
  for (const s of spans) {
    const last = out[out.length - 1];
    if (last !== undefined && last.start + BigInt(last.length) === s.start && last.length + s.length <= max) {
      last.length += s.length;
    } else {
      out.push({ ...s });
    }
  }
  return out;
}

/** Splits a span into pieces no longer than `max`. */
function split(s: Span, max: number): Span[] {
  const out: Span[] = [];
  for (let off = 0; off < s.length; off += max) {
    out.push({ start: s.start + BigInt(off), phys: s.phys + BigInt(off), length: Math.min(max, s.length - off) });
  }
  return out;
}

/**
 * Decides, per object, which mechanisms guard it and turns that into the fewest backend watches:
 * adjacent objects (the entries of one table) share one watchpoint per alias. When watchpoints run
 * out, whole rules lose theirs from the end of the policy, and the plan says so.
 */
export function planArming(regions: readonly ResolvedRegion[], options: ArmPlanOptions): ArmPlan {
  const notes = new Set<string>();
  const chosen = regions.map((region) => {
    const w = wanted(region, options.uffd);
    if (w.note !== null) notes.add(w.note);
    return { region, mechanisms: w.mechanisms };
  });
  const gdbSpans = () =>
    merge(
      chosen
        .filter((c) => c.mechanisms.includes('watchpoint'))
        .flatMap((c) =>
          c.region.aliases.flatMap((alias) => split({ start: alias, phys: c.region.physical, length: c.region.length }, MAX_WATCH)),
        ),
      MAX_WATCH,
    );
  let gdb = gdbSpans();
  while (gdb.length > options.watchpointBudget) {
    const last = [...chosen].reverse().find((c) => c.mechanisms.includes('watchpoint'));
    if (last === undefined) break;
    const rule = last.region.rule;
    for (const c of chosen) {
      if (c.region.rule === rule) c.mechanisms = c.mechanisms.filter((m) => m !== 'watchpoint');
    }
    notes.add(`${rule}: watchpoint budget (${options.watchpointBudget}) exhausted; covered by physical traps or the sweep only`);
    gdb = gdbSpans();
  }
  const uffd = merge(
    chosen
      .filter((c) => c.mechanisms.includes('uffd-wp'))
      .map((c) => ({ start: c.region.physical, phys: c.region.physical, length: c.region.length })),
    MAX_UFFD_RANGE,
  );
  return {
    watches: [
      ...gdb.map((s) => ({ backend: 'gdbstub' as const, virt: s.start, phys: s.phys, length: s.length })),
      ...uffd.map((s) => ({ backend: 'uffd' as const, virt: s.start, phys: s.phys, length: s.length })),
    ],
    mechanisms: new Map(chosen.map((c) => [c.region.object, c.mechanisms])),
    notes: [...notes],
  };
}
