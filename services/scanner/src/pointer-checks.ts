/** Decoding of the kernel dispatch structures whose entries must point into kernel text. */

export interface TextRange {
  readonly start: bigint;
  readonly end: bigint;
  /** Module name, or null for the kernel image. */
  readonly module: string | null;
}

/** A `sys_call_table` entry: one little-endian 64-bit handler address. */
export function syscallTarget(entry: Uint8Array): bigint | null {
  if (entry.length < 8) return null;
  return Buffer.from(entry.buffer, entry.byteOffset, 8).readBigUInt64LE(0);
}

/**
 * An x86-64 IDT gate (16 bytes): offset bits 0..15 in bytes 0-1, 16..31 in bytes 6-7, 32..63 in
 * bytes 8-11. A gate with the present bit clear points nowhere and is reported as null.
 */
export function idtGateTarget(gate: Uint8Array): { target: bigint; present: boolean } | null {
  if (gate.length < 16) return null;
  const b = Buffer.from(gate.buffer, gate.byteOffset, 16);
  const low = BigInt(b.readUInt16LE(0));
  const mid = BigInt(b.readUInt16LE(6));
  const high = BigInt(b.readUInt32LE(8));
  const present = ((b[5] ?? 0) & 0x80) !== 0;
  return { target: low | (mid << 16n) | (high << 32n), present };
}

export function inText(address: bigint, ranges: readonly TextRange[]): TextRange | null {
  for (const r of ranges) if (address >= r.start && address < r.end) return r;
  return null;
}

/** The NUL-terminated string a kernel `char[]` holds (latin1: bytes are shown as they are). */
export function cString(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return Buffer.from(bytes.buffer, bytes.byteOffset, nul === -1 ? bytes.length : nul).toString('latin1');
}
