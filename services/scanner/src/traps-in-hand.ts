/**
 * The objects a trap is being checked for right now, so the sweep leaves them to the trap path: a
 * trapped string waits for the rest of its write, and a sweep that looked meanwhile would report the
 * change without the writer the trap knows.
 */
export class TrapsInHand {
  private readonly count = new Map<string, number>();

  /** Marks a trap on the object as in hand; the returned function marks it done. */
  begin(guest: string, object: string): () => void {
    const key = `${guest}|${object}`;
    this.count.set(key, (this.count.get(key) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.count.get(key) ?? 1) - 1;
      if (left > 0) this.count.set(key, left);
      else this.count.delete(key);
    };
  }

  has(guest: string, object: string): boolean {
    return this.count.has(`${guest}|${object}`);
  }
}
