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
  /** Traps checked at once. */
  trapConcurrency: Type.Integer({ minimum: 1, maximum: 1024, default: 16 }),
  /** Guard of the copy: auto picks RTM where the CPU has it, else the trap guard, else a pause. */
  copyGuard: Type.Union([Type.Literal('auto'), Type.Literal('rtm'), Type.Literal('trap'), Type.Literal('pause')], { default: 'auto' }),
  /**
   * Modules whose text a dispatch-table entry may point into (comma-separated). Any other module,
   * even one the symbol profile lists, is not trusted: a hook usually lives in a module.
   */
  trustedModules: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { default: [] }),
  /** Traps on strings (written a few bytes per store) are checked this long after they arrive. */
  stringSettleMs: Type.Integer({ minimum: 0, maximum: 10_000, default: 20 }),
  /** How long a trap waits for its guest's protection state to arrive before it is retried. */
  stateWaitMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 2000 }),
});
export type ScannerConfig = Static<typeof ScannerConfig>;
