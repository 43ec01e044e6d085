/**
 * Per-region storm control. A window opens at a region's first trap and lasts `windowMs`; the first
 * `burst` traps of a window go out one by one, the rest are only counted. When a window with
 * suppressed traps closes, a summary carries the window's full count; the windows right after a
 * storm are summarised too (the storm's tail), so the summaries of one storm add up to every trap
 * it had, and nothing is dropped without being counted.
 */
export interface WindowSummary<R> {
  readonly key: string;
  readonly region: R;
  readonly count: number;
  readonly suppressed: number;
  readonly firstSeen: Date;
  readonly lastSeen: Date;
  readonly windowMs: number;
  readonly lastTrapId: string | null;
}

export interface CoalescerOptions<R> {
  burst: number;
  windowMs: number;
  onSummary: (summary: WindowSummary<R>) => void;
}

interface OpenWindow<R> {
  region: R;
  count: number;
  suppressed: number;
  firstSeen: Date;
  lastSeen: Date;
  lastTrapId: string | null;
  /** The previous window of this region was summarised and ended when this one opened. */
  continuesStorm: boolean;
  timer: NodeJS.Timeout;
}

export class Coalescer<R> {
  private readonly windows = new Map<string, OpenWindow<R>>();
  /** When the last summarised window of a region closed, so a storm's tail is summarised too. */
  private readonly stormEnded = new Map<string, number>();
  private readonly options: CoalescerOptions<R>;

  constructor(options: CoalescerOptions<R>) {
    this.options = options;
  }

  /** Counts one trap; returns true when it should be published individually. */
  admit(key: string, region: R, trapId: string, at: Date = new Date()): boolean {
    let w = this.windows.get(key);
    if (w === undefined) {
      const ended = this.stormEnded.get(key);
      const continuesStorm = ended !== undefined && at.getTime() - ended <= this.options.windowMs;
      w = {
        region,
        count: 0,
        suppressed: 0,
        firstSeen: at,
        lastSeen: at,
        lastTrapId: null,
        continuesStorm,
        timer: setTimeout(() => this.close(key), this.options.windowMs),
      };
      w.timer.unref();
      this.windows.set(key, w);
    }
    w.count += 1;
    w.lastSeen = at;
    w.lastTrapId = trapId;
    const individual = w.count <= this.options.burst;
    if (!individual) w.suppressed += 1;
    return individual;
  }

  /** Closes every open window now (shutdown, policy change). */
  flush(): void {
    for (const key of [...this.windows.keys()]) this.close(key);
  }

  get openWindows(): number {
    return this.windows.size;
  }

  private close(key: string): void {
    const w = this.windows.get(key);
    if (w === undefined) return;
    clearTimeout(w.timer);
    this.windows.delete(key);
    if (w.suppressed > 0 || w.continuesStorm) {
      this.stormEnded.set(key, Date.now());
      this.options.onSummary({
        key,
        region: w.region,
        count: w.count,
        suppressed: w.suppressed,
        firstSeen: w.firstSeen,
        lastSeen: w.lastSeen,
        windowMs: this.options.windowMs,
        lastTrapId: w.lastTrapId,
      });
    } else {
      this.stormEnded.delete(key);
    }
  }
}
