import type { Logger } from '@vmi/service-runtime';
import type { GuestContext } from './guest-context.js';
import type { ProtectedObject, ProtectionView } from './protection-view.js';
import { Reporter } from './reporter.js';
import { checkState } from './state-check.js';

export interface SweepDeps {
  readonly view: ProtectionView;
  readonly context: (guestSlug: string) => Promise<GuestContext>;
  readonly reporter: Reporter;
  readonly logger: Logger;
  readonly host: string;
  readonly productVersion: string;
  readonly periodMs: number;
  readonly graceMs: number;
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
      for (const obj of view.objects.values()) await this.sweepObject(obj, ctx);
    }
  }

  private async sweepObject(obj: ProtectedObject, ctx: GuestContext): Promise<void> {
    const { record } = obj;
    this.counters.objects += 1;
    const key = `${record.guest}|${record.object}`;
    const sha = await ctx.reader.hash(BigInt(record.physical), record.length);
    if (sha === record.sha256) {
      this.firstSeen.delete(key);
      return;
    }
    if (this.deps.reporter.reportedAs(Reporter.stateKey(record.guest, record.object, sha)) !== undefined) return;
    const now = Date.now();
    const seen = this.firstSeen.get(key);
    if (seen === undefined || seen.sha !== sha) {
      this.firstSeen.set(key, { sha, at: now });
      if (this.deps.graceMs > 0) {
        // Look again once the grace period is over instead of waiting a whole period.
        setTimeout(() => void this.sweepObject(obj, ctx).catch(() => undefined), this.deps.graceMs + 10).unref();
        return;
      }
    } else if (now - seen.at < this.deps.graceMs) {
      return;
    }
    const r = await checkState(obj, ctx, this.deps.reporter, 'sweep', { host: this.deps.host, productVersion: this.deps.productVersion });
    if (r.published) {
      this.counters.findings += 1;
      this.deps.logger.warn({ guest: record.guest, object: record.object, finding: r.findingId }, 'sweep found a change no trap reported');
    }
  }

  stop(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    return this.running ?? Promise.resolve();
  }
}
