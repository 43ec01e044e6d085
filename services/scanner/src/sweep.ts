import type { Logger } from '@vmi/service-runtime';
import type { GuestContext } from './guest-context.js';
import type { GuestView, ProtectedObject, ProtectionView } from './protection-view.js';
import type { Reporter } from './reporter.js';
import { checkState } from './state-check.js';
import type { TrapsInHand } from './traps-in-hand.js';

/** Objects per comparison: bounds one worker task, and stays well under the native core's range limit. */
const CHUNK_OBJECTS = 1024;

/** One guest's objects in physical order with their ranges and baselines, ready to compare in chunks. */
interface SweepPlan {
  readonly revision: number;
  readonly chunks: ReadonlyArray<{
    readonly objects: readonly ProtectedObject[];
    readonly ranges: ReadonlyArray<{ phys: bigint; length: number }>;
    readonly baselines: readonly Buffer[];
  }>;
}

export interface SweepDeps {
  readonly view: ProtectionView;
  readonly context: (guestSlug: string) => Promise<GuestContext>;
  readonly reporter: Reporter;
  readonly logger: Logger;
  readonly host: string;
  readonly productVersion: string;
  readonly periodMs: number;
  readonly graceMs: number;
  /** Objects a trap is being checked for: their finding comes from the trap, with its writer. */
  readonly inHand: TrapsInHand;
}

/**
 * The physical-level safety net: every protected object's bytes in the RAM file are compared with
 * its baseline, whatever alias a write used. A difference that outlives the grace period and was
 * not reported by a trap becomes a finding that says the sweep found it. The comparison runs in
 * place, byte for byte, in the native core (no copy, no hash), on a plan of ranges and baselines
 * that is rebuilt only when the protected set changes: an idle pass costs little more than reading
 * the protected bytes once.
 */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  /** First time each object was seen changed (and with which hash), for the grace period. */
  private readonly firstSeen = new Map<string, { sha: string; at: number }>();
  private readonly plans = new Map<string, SweepPlan>();
  readonly counters = { sweeps: 0, findings: 0, objects: 0 };

  constructor(private readonly deps: SweepDeps) {}

  start(): void {
    if (this.deps.periodMs <= 0) return;
    const tick = () => {
      this.timer = setTimeout(async () => {
        await this.sweep().catch((err: unknown) => this.deps.logger.error({ err }, 'sweep failed'));
        if (this.timer !== undefined) tick();
      }, this.deps.periodMs);
    };
    tick();
  }

  /** One pass over every guest; concurrent calls share the pass in progress. */
  sweep(): Promise<void> {
    this.running ??= this.pass().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    this.counters.sweeps += 1;
    const guests = this.deps.view.onHost(this.deps.host);
    const current = new Set(guests.map((v) => v.guest.guest));
    for (const slug of this.plans.keys()) if (!current.has(slug)) this.plans.delete(slug);
    for (const view of guests) {
      let ctx: GuestContext;
      try {
        ctx = await this.deps.context(view.guest.guest);
      } catch (err) {
        this.deps.logger.warn({ guest: view.guest.guest, err: (err as Error).message }, 'sweep skipped a guest');
        continue;
      }
      for (const chunk of this.plan(view).chunks) {
        const differing = await ctx.reader.differing(chunk.ranges, chunk.baselines);
        this.counters.objects += chunk.objects.length;
        if (this.firstSeen.size > 0) {
          const changed = new Set(differing);
          chunk.objects.forEach((o, i) => {
            if (!changed.has(i)) this.firstSeen.delete(`${o.record.guest}|${o.record.object}`);
          });
        }
        for (const i of differing) {
          const obj = chunk.objects[i];
          if (obj !== undefined) await this.sweepObject(obj, ctx);
        }
      }
    }
  }

  /** The guest's objects in physical order, cut into chunks; rebuilt only when the protected set changed. */
  private plan(view: GuestView): SweepPlan {
    const revision = this.deps.view.revision;
    const cached = this.plans.get(view.guest.guest);
    if (cached?.revision === revision) return cached;
    const ordered = [...view.objects.values()]
      .map((o) => ({ o, phys: BigInt(o.record.physical) }))
      .sort((a, b) => (a.phys < b.phys ? -1 : a.phys > b.phys ? 1 : 0));
    const chunks: SweepPlan['chunks'][number][] = [];
    for (let at = 0; at < ordered.length; at += CHUNK_OBJECTS) {
      const part = ordered.slice(at, at + CHUNK_OBJECTS);
      chunks.push({
        objects: part.map((p) => p.o),
        ranges: part.map((p) => ({ phys: p.phys, length: p.o.record.length })),
        baselines: part.map((p) => p.o.baseline),
      });
    }
    const plan = { revision, chunks };
    this.plans.set(view.guest.guest, plan);
    return plan;
  }

  private async sweepObject(obj: ProtectedObject, ctx: GuestContext): Promise<void> {
    const { record } = obj;
    const key = `${record.guest}|${record.object}`;
    const sha = await ctx.reader.hash(BigInt(record.physical), record.length);
    if (sha === record.sha256) {
      this.firstSeen.delete(key);
      return;
    }
    if (this.deps.reporter.reportedAs(record.guest, record.object, sha) !== undefined) return;
    const now = Date.now();
    const seen = this.firstSeen.get(key);
    if (seen === undefined || seen.sha !== sha) {
      this.firstSeen.set(key, { sha, at: now });
      if (this.deps.graceMs > 0) {
        this.lookAgain(obj, ctx);
        return;
      }
    } else if (now - seen.at < this.deps.graceMs) {
      return;
    }
    if (this.deps.inHand.has(record.guest, record.object)) {
      // A trap on it is still being checked (a string waits for the rest of its write): look again
      // after another grace period, by when its finding, if any, stands for this state.
      this.lookAgain(obj, ctx);
      return;
    }
    const r = await checkState(obj, ctx, this.deps.reporter, 'sweep', { host: this.deps.host, productVersion: this.deps.productVersion });
    if (r.published) {
      this.counters.findings += 1;
      this.deps.logger.warn({ guest: record.guest, object: record.object, finding: r.findingId }, 'sweep found a change no trap reported');
    }
  }

  /** Looks at one object again once another grace period is over, instead of a whole period later. */
  private lookAgain(obj: ProtectedObject, ctx: GuestContext): void {
    setTimeout(() => void this.sweepObject(obj, ctx).catch(() => undefined), this.deps.graceMs + 10).unref();
  }

  stop(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    return this.running ?? Promise.resolve();
  }
}
