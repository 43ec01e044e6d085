/**
 * Splits a byte stream into newline-terminated JSON documents. QMP sends one document per line;
 * anything that does not parse is reported as garbage instead of throwing, so a confused or hostile
 * peer can never crash the client.
 */
export type DecodedLine = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly reason: string };

/** A line longer than this is garbage: a peer that never sends a newline must not exhaust memory. */
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;

export class JsonLineDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Set while skipping the rest of an oversized line (reported once, when it overflowed). */
  private discarding = false;

  constructor(private readonly maxLineBytes: number = DEFAULT_MAX_LINE_BYTES) {}

  push(chunk: Buffer): DecodedLine[] {
    const out: DecodedLine[] = [];
    let start = 0;
    while (start <= chunk.length) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline < 0 ? chunk.length : newline;
      this.append(chunk.subarray(start, end), out);
      if (newline < 0) break;
      this.finishLine(out);
      start = newline + 1;
    }
    return out;
  }

  private append(piece: Buffer, out: DecodedLine[]): void {
    if (this.discarding || piece.length === 0) return;
    if (this.pendingBytes + piece.length > this.maxLineBytes) {
      this.pending = [];
      this.pendingBytes = 0;
      this.discarding = true;
      out.push({ ok: false, reason: `line longer than ${this.maxLineBytes} bytes` });
      return;
    }
    this.pending.push(piece);
    this.pendingBytes += piece.length;
  }

  private finishLine(out: DecodedLine[]): void {
    if (this.discarding) {
      this.discarding = false;
      return;
    }
    const line = Buffer.concat(this.pending, this.pendingBytes).toString('utf8').trim();
    this.pending = [];
    this.pendingBytes = 0;
    if (line.length > 0) out.push(decode(line));
  }
}

function decode(line: string): DecodedLine {
  try {
    return { ok: true, value: JSON.parse(line) as unknown };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : 'unparseable JSON' };
  }
}
