import { createHash } from 'node:crypto';
import type { Logger } from '@vmi/service-runtime';
import type { GuestContext } from './guest-context.js';
import type { ProtectedObject, ProtectionView } from './protection-view.js';
import type { Reporter } from './reporter.js';
import { checkState } from './state-check.js';
import type { TrapsInHand } from './traps-in-hand.js';

const BATCH_OBJECTS = 512;
const BATCH_BYTES = 1024 * 1024;

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
 * The physical-level safety net: every protected object's bytes in the RAM file are hashed and
 * compared with the baseline's hash, whatever alias a write used. A difference that outlives the
 * grace period and was not reported by a trap becomes a finding that says the sweep found it.
 */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  /** First time each object was seen changed (and with which hash), for the grace period. */
  private readonly firstSeen = new Map<string, { sha: string; at: number }>();
  private readonly expectedByBatch = new Map<string, string>();
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
    for (const view of this.deps.view.all()) {
      let ctx: GuestContext;
      try {
        ctx = await this.deps.context(view.guest.guest);
      } catch (err) {
        this.deps.logger.warn({ guest: view.guest.guest, err: (err as Error).message }, 'sweep skipped a guest');
        continue;
      }
      for (const batch of this.batches([...view.objects.values()])) {
        // One hash over a batch's ranges; only a batch that differs is looked at object by object.
        const actual = await ctx.reader.hashRanges(batch.map((o) => ({ phys: BigInt(o.record.physical), length: o.record.length })));
        this.counters.objects += batch.length;
        if (actual === this.expected(batch)) {
          for (const o of batch) this.firstSeen.delete(`${o.record.guest}|${o.record.object}`);
          continue;
        }
        for (const obj of batch) await this.sweepObject(obj, ctx);
      }
    }
  }

  /** Objects in physical order, cut into batches of bounded count and size. */
  private batches(objects: ProtectedObject[]): ProtectedObject[][] {
    objects.sort((a, b) => (BigInt(a.record.physical) < BigInt(b.record.physical) ? -1 : 1));
    const out: ProtectedObject[][] = [];
    let cur: ProtectedObject[] = [];
    let bytes = 0;
    for (const o of objects) {
      if (cur.length >= BATCH_OBJECTS || bytes + o.record.length > BATCH_BYTES) {
        if (cur.length > 0) out.push(cur);
        cur = [];
        bytes = 0;
      }
      cur.push(o);
      bytes += o.record.length;
    }
    if (cur.length > 0) out.push(cur);
    return out;
  }

  /** The hash a batch has when every object holds its baseline (memoised by the baselines' hashes). */
  private expected(batch: ProtectedObject[]): string {
    const key = createHash('sha256')
      .update(batch.map((o) => `${o.record.physical}:${o.record.sha256}`).join(','))
      .digest('hex');
    let sha = this.expectedByBatch.get(key);
    if (sha === undefined) {
      const h = createHash('sha256');
      for (const o of batch) h.update(o.baseline);
      sha = h.digest('hex');
      if (this.expectedByBatch.size > 10_000) this.expectedByBatch.clear();
      this.expectedByBatch.set(key, sha);
    }
    return sha;
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
