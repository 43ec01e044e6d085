import Type, { type Static } from 'typebox';

/** The scanner's own settings (environment), beside the runtime's base settings. */
export const ScannerConfig = Type.Object({
  /** Safety-net sweep of every protected object through the RAM file; 0 turns it off. */
  sweepPeriodMs: Type.Integer({ minimum: 0, maximum: 86_400_000, default: 5000 }),
  /**
   * A sweep reports a changed object only when the change is still there this long after it was
   * first seen and no trap reported it: the trap path, with its who-data, goes first.
   */
  sweepGraceMs: Type.Integer({ minimum: 0, maximum: 600_000, default: 500 }),
  /** Periodic full scan (guarded copy and every check of every object), kept for comparison; 0 = off. */
  periodicScanMs: Type.Integer({ minimum: 0, maximum: 86_400_000, default: 0 }),
  /**
   * Traps in hand at once. Traps on a string wait for the rest of its write (see stringQuietMs),
   * so this must exceed the traps of one write: the agent sends at most its burst (100 by default)
   * per object per window one by one, and a waiting trap costs a timer, not work.
   */
  trapConcurrency: Type.Integer({ minimum: 1, maximum: 4096, default: 256 }),
  /**
   * The agent's trap handoff socket on this host (its TRAP_HANDOFF_SOCKET): each trap comes from
   * there at once, a local write from the agent. Unset: the fast copy comes by NATS (fastTraps).
   */
  trapHandoffSocket: Type.Optional(Type.String({ minLength: 1, maxLength: 107 })),
  /**
   * Without a handoff socket, traps are taken at once from a core subscription as well as from the
   * durable consumer (see TrapIntake): one NATS hop from the agent instead of JetStream's
   * store-and-deliver. Off, only the durable consumer brings them.
   */
  fastTraps: Type.Boolean({ default: true }),
  /**
   * A trap whose durable copy arrives first (its fast copy went to another of the host's scanner
   * instances, or was lost; the handoff socket gives no order against it, so with one, every first
   * delivery not yet seen waits) waits this long before it is checked here, on its first delivery.
   * Longer than one check of a string (stringSettleMaxMs), so the other instance's finding stands.
   */
  fastTrapGraceMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 2000 }),
  /** Guard of the copy: auto picks RTM where the CPU has it, else the trap guard, else a pause. */
  copyGuard: Type.Union([Type.Literal('auto'), Type.Literal('rtm'), Type.Literal('trap'), Type.Literal('pause')], { default: 'auto' }),
  /**
   * Modules whose text a dispatch-table entry may point into (comma-separated). Any other module,
   * even one the symbol profile lists, is not trusted: a hook usually lives in a module.
   */
  trustedModules: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { default: [] }),
  /**
   * A string is written a few bytes per store, one trap each: it is read once no further trap on it
   * has arrived for this long. The gap between two stores' traps reaching the scanner is a few ms
   * on a quiet host and tens of ms on a loaded one.
   */
  stringQuietMs: Type.Integer({ minimum: 0, maximum: 10_000, default: 100 }),
  /** ...and at the latest this long after its first trap, however long the writes go on. */
  stringSettleMaxMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 1000 }),
  /** How long a trap waits for its guest's protection state to arrive before it is retried. */
  stateWaitMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 2000 }),
});
export type ScannerConfig = Static<typeof ScannerConfig>;
