import type { Guard } from '@vmi/contracts';
import type { Static } from 'typebox';

export interface GuardedBytes {
  readonly bytes: Buffer;
  readonly guard: Static<typeof Guard>;
  /** Copies tried (1 when the first was clean). */
  readonly attempts: number;
  /** Copies thrown away because the guest wrote during them. */
  readonly aborts: number;
}

/** The scanner's access to one guest's memory: guarded copies and hashes through the RAM file. */
export interface GuestReader {
  copy(phys: bigint, length: number): Promise<GuardedBytes>;
  /** SHA-256 (hex) of a guest-physical range, as it is now (the sweep's cheap comparison). */
  hash(phys: bigint, length: number): Promise<string>;
  /** SHA-256 (hex) of several ranges read back to back (one pass for a batch of small objects). */
  hashRanges(ranges: ReadonlyArray<{ phys: bigint; length: number }>): Promise<string>;
  close(): void;
}
