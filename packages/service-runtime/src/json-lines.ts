/**
 * Cuts a byte stream into newline-terminated lines, as the local sockets between services frame
 * their JSON (one message per line). A line may arrive in pieces; one that grows past `maxLineBytes`
 * without ending is not a message of ours, and `push` says so, so the caller can drop the stream
 * instead of buffering without bound.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onLine: (line: Buffer) => void,
  ) {}

  /** Feeds the next chunk; every complete non-empty line goes to `onLine`. False: a line is over the limit. */
  push(chunk: Buffer): boolean {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      const part = chunk.subarray(start, nl);
      const line = this.pendingBytes === 0 ? part : Buffer.concat([...this.pending, part]);
      this.pending = [];
      this.pendingBytes = 0;
      start = nl + 1;
      if (line.length > this.maxLineBytes) return false;
      if (line.length > 0) this.onLine(line);
    }
    if (start < chunk.length) {
      this.pending.push(chunk.subarray(start));
      this.pendingBytes += chunk.length - start;
      if (this.pendingBytes > this.maxLineBytes) return false;
    }
    return true;
  }
}
