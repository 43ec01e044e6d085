import type { Context } from '@opentelemetry/api';
import type { TrapEvent } from '@vmi/contracts';

export interface TrapIntakeOptions {
  /** Fast copies checked at once, at most; beyond that the durable copy brings the trap. */
  readonly maxFastInFlight: number;
  /**
   * How long the first durable delivery of a trap this instance never saw waits before checking
   * it: the time another instance of the host's scanners needs to check the fast copy it took.
   */
  readonly graceMs: number;
  /** How long a checked trap is remembered, so a late or repeated copy finds it done. */
  readonly rememberMs: number;
  /** Traps remembered at most (the oldest are forgotten first). */
  readonly rememberMax: number;
}

interface Check {
  readonly at: number;
  /** Resolves true once the trap was checked and reported, false when that check failed. */
  readonly done: Promise<boolean>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Each trap event reaches the scanner twice. The fast copy comes through a core subscription to
 * the host's trap subject: the server hands a published message to core subscribers as it reads
 * it, one hop from the agent, while JetStream still stores it. The durable copy comes through the
 * JetStream consumer a hop later, and also brings what the fast path missed (a reconnect, a full
 * client buffer, a scanner that was down, more traps than `maxFastInFlight`). Whichever copy comes
 * first is checked; the other is done when that check is. Only a failed check is checked again.
 *
 * One connection gets the fast copy before the durable one, so a durable copy this instance never
 * saw fast went to another instance or nowhere: it waits `graceMs` on first delivery for the other
 * instance's finding to be recorded (shared state keeps the finding single), then is checked. One
 * the agent says it handed to no scanner (`fastCopy: false`) has no fast copy anywhere to wait for.
 */
export class TrapIntake {
  private readonly checks = new Map<string, Check>();
  private fastInFlight = 0;
  readonly counters = {
    /** Traps checked from their fast copy. */
    fast: 0,
    /** Traps checked from their durable copy (the fast one missed, was refused, or its check failed). */
    durable: 0,
    /** Fast copies left to the durable path because `maxFastInFlight` were in hand. */
    deferred: 0,
    /** Fast copies whose check failed (the durable copy retries them). */
    fastFailed: 0,
  };

  constructor(
    /** Checks one trap; `parent` is the trace context of a fast copy (a durable copy runs in its consumer's span). */
    private readonly check: (event: TrapEvent, parent?: Context) => Promise<void>,
    private readonly options: TrapIntakeOptions,
  ) {}

  /**
   * A fast copy: checked now, unless this trap is in hand already or too many are. A held trap is
   * checked now whatever the count: its vCPU waits for the verdict (and there is one per stop).
   */
  fast(event: TrapEvent, parent?: Context): void {
    if (this.checks.has(event.id)) return;
    if (this.fastInFlight >= this.options.maxFastInFlight && !event.held) {
      this.counters.deferred += 1;
      // Known here and left unchecked: its durable copy is checked at once, with no grace to give.
      this.remember(event.id, Promise.resolve(false));
      return;
    }
    this.fastInFlight += 1;
    const done = this.check(event, parent).then(
      () => {
        this.counters.fast += 1;
        return true;
      },
      () => {
        this.counters.fastFailed += 1;
        return false;
      },
    );
    void done.finally(() => {
      this.fastInFlight -= 1;
    });
    this.remember(event.id, done);
  }

  /**
   * A durable copy: done once the fast copy's check succeeds, else checked here. A failed check
   * throws, so the consumer retries the trap. `fastCopy` false: the agent handed this trap to no
   * scanner, so no instance can be checking it yet.
   */
  async durable(event: TrapEvent, deliveryCount: number, fastCopy = true): Promise<void> {
    let seen = this.checks.get(event.id);
    if (seen === undefined && deliveryCount === 1 && fastCopy && this.options.graceMs > 0) {
      await sleep(this.options.graceMs);
      seen = this.checks.get(event.id);
    }
    if (seen !== undefined && (await seen.done)) return;
    const checked = this.check(event);
    // In hand from now on: a fast copy arriving after this (another publish of the trap) is done with it.
    this.remember(
      event.id,
      checked.then(
        () => true,
        () => false,
      ),
    );
    await checked;
    this.counters.durable += 1;
  }

  /** Waits for the fast checks in hand (shutdown: before guest memory closes under them). */
  async drain(): Promise<void> {
    await Promise.all([...this.checks.values()].map((c) => c.done));
  }

  private remember(id: string, done: Promise<boolean>): void {
    const now = Date.now();
    this.checks.delete(id);
    this.checks.set(id, { at: now, done });
    // Insertion order is age order: forget from the front.
    for (const [oldId, c] of this.checks) {
      if (this.checks.size <= this.options.rememberMax && now - c.at < this.options.rememberMs) break;
      this.checks.delete(oldId);
    }
  }
}
