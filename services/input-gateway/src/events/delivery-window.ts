import type { ForwardItem } from '../forward/forwarder.js';

export interface DeliverySummary {
  readonly records: number;
  readonly keys: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly attempts: number;
  readonly timing: { readonly p50_ms: number; readonly max_ms: number };
}

/**
 * Coalesces deliveries into one `forwarded` event per window, so a fast typist makes a few events a
 * second rather than one per key, and the counts still add up to every record delivered.
 */
export class DeliveryWindow {
  #records = 0;
  #keys = 0;
  #firstSeq = 0;
  #lastSeq = 0;
  #attempts = 0;
  #latencies: number[] = [];

  add(items: readonly ForwardItem[], attempts: number, now: number): void {
    for (const item of items) {
      if (this.#records === 0) this.#firstSeq = item.record.seq;
      this.#records++;
      this.#keys += item.keys;
      this.#lastSeq = item.record.seq;
      this.#latencies.push(now - item.receivedAt);
    }
    this.#attempts = Math.max(this.#attempts, attempts);
  }

  get empty(): boolean {
    return this.#records === 0;
  }

  /** The window's summary, and a fresh window. */
  take(): DeliverySummary | null {
    if (this.#records === 0) return null;
    const sorted = this.#latencies.sort((a, b) => a - b);
    const round = (ms: number) => Math.round(ms * 1000) / 1000;
    const summary: DeliverySummary = {
      records: this.#records,
      keys: this.#keys,
      firstSeq: this.#firstSeq,
      lastSeq: this.#lastSeq,
      attempts: this.#attempts,
      timing: { p50_ms: round(sorted[Math.floor((sorted.length - 1) / 2)] ?? 0), max_ms: round(sorted[sorted.length - 1] ?? 0) },
    };
    this.#records = 0;
    this.#keys = 0;
    this.#attempts = 0;
    this.#latencies = [];
    return summary;
  }
}
