import Type, { type Static } from 'typebox';

/** The host agent's own settings (environment), beside the runtime's base settings. */
export const AgentConfig = Type.Object({
  /** JSON file listing the guests to attach: `{"guests": [...]}`. */
  guestsFile: Type.Optional(Type.String({ minLength: 1 })),
  /**
   * A Unix socket where this host's scanners take each trap event straight from the agent, beside
   * its JetStream publish (a hop less on the detection path; see TrapHandoff). Unset: no handoff.
   */
  trapHandoffSocket: Type.Optional(Type.String({ minLength: 1, maxLength: 107 })),
  /** Enforce mode: how long a held vCPU waits for a verdict before it is released (fail open). */
  verdictTimeoutMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 2000 }),
  /** Most gdbstub watchpoints armed per guest. */
  watchpointBudget: Type.Integer({ minimum: 1, maximum: 4096, default: 1000 }),
  /** Delay between attempts to (re-)attach a guest that is not reachable. */
  reattachMs: Type.Integer({ minimum: 50, maximum: 600_000, default: 1000 }),
  /** Coalescing defaults when a policy names none. */
  coalesceBurst: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 100 }),
  coalesceWindowMs: Type.Integer({ minimum: 10, maximum: 3_600_000, default: 1000 }),
  /**
   * How often the guest record is refreshed, so an agent restarted after a crash can bound how long
   * protection lapsed (a clean stop writes it last, so the gap after a restart is exact). Every
   * refresh wakes every scanner watching the protection bucket: the idle cost of the event mode.
   */
  heartbeatMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 60_000 }),
});
export type AgentConfig = Static<typeof AgentConfig>;
