import type { MechanismName } from './arm-plan.js';

/** One write as a trap backend reported it, normalised for the agent. */
export interface RawTrap {
  readonly seq: bigint;
  readonly mechanism: MechanismName;
  /** The virtual address written (watchpoints), or null (physical traps). */
  readonly virtual: bigint | null;
  /** Guest-physical address of `oldBytes[0]` / `newBytes[0]`. */
  readonly physical: bigint;
  readonly oldBytes: Uint8Array;
  readonly newBytes: Uint8Array;
  readonly rip: bigint | null;
  readonly cr3: bigint | null;
  readonly vcpu: number | null;
  readonly merged: boolean;
  readonly held: boolean;
  /** Wall-clock time of the stop (derived from the monotonic stamp). */
  readonly trappedAt: Date;
  /** Nanoseconds from the stop to the event leaving the native core. */
  readonly nativeLatencyNs: number;
}

/** A backend reporting that trapping stopped or resumed (watchdog, link loss). */
export interface ProtectionChange {
  readonly mechanism: MechanismName;
  readonly lost: boolean;
  readonly detail: string;
}

/**
 * The agent's view of one trap backend of one guest (the gdbstub's watchpoints or the
 * userfaultfd page traps): the native trap engine behind a small interface.
 */
export interface TrapSource {
  readonly mechanism: MechanismName;
  watch(spec: { virt: bigint; phys: bigint; length: number }): Promise<number>;
  unwatch(id: number): Promise<void>;
  /** Lets a held vCPU go (enforce mode), restoring the old bytes first when asked. */
  release(seq: bigint, restore: boolean): Promise<void>;
  /** Where the backend keeps per-watch write generations for readers in other processes. */
  readonly generationTable: string | null;
  close(): Promise<void>;
}

export interface TrapSourceEvents {
  onTraps(traps: readonly RawTrap[]): void;
  onProtection(change: ProtectionChange): void;
  /** The backend's link is gone for good (QEMU exited, descriptor lost). */
  onClosed(reason: string): void;
}
