import type { Verdict } from '@vmi/contracts';

/** Settled traps remembered: far more than the verdicts one trap's two copies can be apart by. */
const SETTLED_KEPT = 4096;

export interface HeldTrap {
  readonly trapId: string;
  readonly seq: bigint;
  readonly release: (restore: boolean) => Promise<void>;
}

export interface EnforcerOptions {
  /** How long a vCPU may wait for a verdict before it is let go (fail open). */
  timeoutMs: number;
  onTimeout: (held: HeldTrap) => void;
  onReleased: (held: HeldTrap, verdict: Verdict) => void;
  onError: (held: HeldTrap, err: unknown) => void;
}

/**
 * Enforce mode: a held vCPU waits for the scanner's verdict on its trap. A malicious verdict that
 * asks for it restores the old bytes before the vCPU goes on; no verdict in time lets it go
 * unchanged (fail open), and that is reported, never silent.
 */
export class Enforcer {
  private readonly held = new Map<string, { held: HeldTrap; timer: NodeJS.Timeout }>();
  /** Verdicts that arrived before their trap was registered (the scanner can be that fast). */
  private readonly early = new Map<string, Verdict>();
  /**
   * Traps settled lately, oldest first: a verdict comes twice (over the trap handoff and as its
   * JetStream record), and the second copy must not wait among the early ones, crowding them out.
   */
  private readonly settled = new Set<string>();
  readonly counters = { held: 0, released: 0, restored: 0, timedOut: 0 };

  constructor(private readonly options: EnforcerOptions) {}

  get pending(): number {
    return this.held.size;
  }

  hold(held: HeldTrap): void {
    this.counters.held += 1;
    const verdict = this.early.get(held.trapId);
    if (verdict !== undefined) {
      this.early.delete(held.trapId);
      this.settle(held, verdict);
      return;
    }
    const timer = setTimeout(() => {
      this.held.delete(held.trapId);
      this.remember(held.trapId);
      this.counters.timedOut += 1;
      this.options.onTimeout(held);
      held.release(false).catch((err: unknown) => this.options.onError(held, err));
    }, this.options.timeoutMs);
    this.held.set(held.trapId, { held, timer });
  }

  /** Applies a verdict; returns false when it is for no trap this agent holds. */
  verdict(verdict: Verdict): boolean {
    const entry = this.held.get(verdict.trap_id);
    if (entry === undefined && this.settled.has(verdict.trap_id)) return false;
    if (entry === undefined) {
      // Keep a few early verdicts briefly; anything else is for another agent or already settled.
      if (this.early.size < 1024) {
        this.early.set(verdict.trap_id, verdict);
        setTimeout(() => this.early.delete(verdict.trap_id), 5000).unref();
      }
      return false;
    }
    clearTimeout(entry.timer);
    this.held.delete(verdict.trap_id);
    this.settle(entry.held, verdict);
    return true;
  }

  private remember(trapId: string): void {
    this.settled.add(trapId);
    if (this.settled.size > SETTLED_KEPT) this.settled.delete(this.settled.values().next().value as string);
  }

  private settle(held: HeldTrap, verdict: Verdict): void {
    this.remember(held.trapId);
    const restore = verdict.verdict === 'malicious' && verdict.restore;
    held.release(restore).then(
      () => {
        this.counters.released += 1;
        if (restore) this.counters.restored += 1;
        this.options.onReleased(held, verdict);
      },
      (err: unknown) => this.options.onError(held, err),
    );
  }

  /** Lets every held vCPU go (shutdown): never leave a guest frozen behind. */
  async releaseAll(): Promise<void> {
    const all = [...this.held.values()];
    this.held.clear();
    await Promise.allSettled(
      all.map(({ held, timer }) => {
        clearTimeout(timer);
        return held.release(false);
      }),
    );
  }
}
