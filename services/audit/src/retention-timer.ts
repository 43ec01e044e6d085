import type { Logger } from '@vmi/service-runtime';
import type { AuditDb } from './db/open.js';
import { runRetention } from './store/retention.js';

/** Enforces the configured maximum age on a timer; a failed run is logged and tried next time. */
export function startRetentionTimer(db: AuditDb, maxAgeS: number, intervalS: number, logger: Logger): { stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = runRetention(db, new Date(Date.now() - maxAgeS * 1000)).then(
      (r) => {
        if (r.removed > 0) logger.info({ removed: r.removed, checkpoint: r.checkpoint?.seq }, 'retention removed old events');
      },
      (err: unknown) => logger.error({ err }, 'retention run failed'),
    );
  };
  const timer = setInterval(tick, intervalS * 1000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
