/**
 * One read for the traps of one multi-store write. The kernel writes a string a byte or a word per
 * store and every store is its own trap: a read at each trap would judge every half-written state
 * and report each as its own change. Traps on one key join a group; the group reads once no further
 * trap has joined for `quietMs` (and at the latest `maxMs` after its first trap), and every trap of
 * the group gets that one read. A trap arriving while its group is being read starts the next group,
 * so no trap is judged on a read taken before it.
 *
 * The quiet period is counted between arrivals at the scanner, so it must cover the whole path from
 * one store to the next trap's arrival on a loaded host; every trap of a write must also be able to
 * arrive while the earlier ones wait here (the trap consumer's concurrency above the agent's burst).
 */
export class SettleGroups<T> {
  private readonly open = new Map<string, OpenGroup<T>>();

  constructor(
    private readonly quietMs: number,
    private readonly maxMs: number,
  ) {}

  /** The read that stands for this trap: taken by `read` once the key's writes have settled. */
  join(key: string, read: () => Promise<T>): Promise<T> {
    const now = Date.now();
    let group = this.open.get(key);
    if (group === undefined) {
      group = new OpenGroup(now + this.maxMs, read, () => this.open.delete(key));
      this.open.set(key, group);
    }
    group.extend(Math.min(now + this.quietMs, group.deadline));
    return group.result;
  }

  /** Groups still waiting to read. */
  get waiting(): number {
    return this.open.size;
  }
}

class OpenGroup<T> {
  readonly result: Promise<T>;
  private resolve!: (value: Promise<T>) => void;
  private timer: NodeJS.Timeout | undefined;
  private dueAt = 0;

  constructor(
    readonly deadline: number,
    private readonly read: () => Promise<T>,
    private readonly closed: () => void,
  ) {
    this.result = new Promise<T>((resolve) => {
      this.resolve = resolve;
    });
  }

  /** Moves the read to `at` (never earlier than it already was). */
  extend(at: number): void {
    if (at <= this.dueAt) return;
    this.dueAt = at;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fire(), Math.max(0, at - Date.now()));
  }

  private fire(): void {
    // Closed before the read starts: a trap that comes during the read opens the next group.
    this.closed();
    this.resolve(this.read());
  }
}
