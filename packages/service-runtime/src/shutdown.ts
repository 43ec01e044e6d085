import type { Logger } from './logger.js';

export type Closer = () => Promise<void> | void;

export interface Shutdown {
  /**
   * Registers something to close. Closers run last-registered first (like a stack): register the
   * transport before the work that uses it, and the work stops before its transport goes.
   */
  add(name: string, close: Closer): void;
  /** Runs every closer once, in order; later calls return the same promise. Never rejects. */
  run(reason: string): Promise<void>;
  readonly shuttingDown: boolean;
  /** Calls {@link run} on SIGINT/SIGTERM and then exits; a second signal exits at once. */
  installSignalHandlers(signals?: NodeJS.Signals[]): void;
  /** Removes the signal handlers (tests). */
  removeSignalHandlers(): void;
}

export interface ShutdownOptions {
  /** A closer that takes longer is abandoned (logged) and the next one runs. */
  closerTimeoutMs?: number;
  /** Called first when shutdown starts (e.g. mark the service not ready). */
  onStart?: () => void;
}

export function createShutdown(logger: Logger, options: ShutdownOptions = {}): Shutdown {
  const closers: { name: string; close: Closer }[] = [];
  const timeoutMs = options.closerTimeoutMs ?? 30_000;
  let running: Promise<void> | undefined;
  const handlers = new Map<NodeJS.Signals, () => void>();
  const log = logger.child({ component: 'shutdown' });

  async function runOne(name: string, close: Closer) {
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const outcome = await Promise.race([
        Promise.resolve()
          .then(close)
          .then(() => 'done' as const),
        new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), timeoutMs);
          timer.unref();
        }),
      ]);
      if (outcome === 'timeout') log.error({ closer: name, timeoutMs }, 'closer timed out; continuing');
      else log.debug({ closer: name, ms: Date.now() - started }, 'closed');
    } catch (err) {
      log.error({ err, closer: name }, 'closer failed; continuing');
    } finally {
      clearTimeout(timer);
    }
  }

  const self: Shutdown = {
    add(name, close) {
      if (running !== undefined) throw new Error(`cannot register ${name}: shutdown already started`);
      closers.push({ name, close });
    },
    get shuttingDown() {
      return running !== undefined;
    },
    run(reason) {
      running ??= (async () => {
        log.info({ reason }, 'shutting down');
        try {
          options.onStart?.();
        } catch (err) {
          log.error({ err }, 'shutdown start hook failed');
        }
        for (const { name, close } of [...closers].reverse()) await runOne(name, close);
        log.info({ reason }, 'shutdown complete');
      })();
      return running;
    },
    installSignalHandlers(signals = ['SIGINT', 'SIGTERM']) {
      for (const signal of signals) {
        if (handlers.has(signal)) continue;
        const handler = () => {
          if (running !== undefined) {
            log.warn({ signal }, 'second signal; exiting now');
            process.exit(1);
          }
          void self.run(signal).then(() => process.exit(0));
        };
        handlers.set(signal, handler);
        process.on(signal, handler);
      }
    },
    removeSignalHandlers() {
      for (const [signal, handler] of handlers) process.off(signal, handler);
      handlers.clear();
    },
  };
  return self;
}
