/** Evidence carries at most one page of bytes: the window of an object around its first change. */
export const MAX_EVIDENCE_BYTES = 4096;

export interface ByteWindow {
  /** Offset of the window inside the object. */
  readonly offset: number;
  readonly before: Buffer;
  readonly after: Buffer;
}

export function changeWindow(baseline: Buffer, current: Buffer): ByteWindow {
  const length = Math.min(baseline.length, current.length);
  if (length <= MAX_EVIDENCE_BYTES) return { offset: 0, before: baseline.subarray(0, length), after: current.subarray(0, length) };
  let first = 0;
  while (first < length && baseline[first] === current[first]) first++;
  // Start a little before the change (16-byte aligned) so the bytes around it are shown too.
  const offset = Math.min(Math.max(0, (first & ~15) - 64), length - MAX_EVIDENCE_BYTES);
  return {
    offset,
    before: baseline.subarray(offset, offset + MAX_EVIDENCE_BYTES),
    after: current.subarray(offset, offset + MAX_EVIDENCE_BYTES),
  };
}
