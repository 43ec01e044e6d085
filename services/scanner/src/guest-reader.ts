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
  /**
   * Indices of the ranges that no longer hold their expected bytes (`expected[i]` for `ranges[i]`),
   * compared in place: the sweep's one pass over every protected object.
   */
  differing(ranges: ReadonlyArray<{ phys: bigint; length: number }>, expected: readonly Buffer[]): Promise<number[]>;
  close(): void;
}
