import type { Service } from '@nats-io/services';
import { SpanKind } from '@opentelemetry/api';
import { CONSUMERS, NATS_HEADERS, ScannerErrors, type ScannerStatsReply, slugToken, VmiError, validators } from '@vmi/contracts';
import { DETECTION_PATH_NICE, type ServiceContext, type StartServiceOptions, startService, withSpan } from '@vmi/service-runtime';
import { ScannerConfig } from './config.js';
import { startScannerControl } from './control-service.js';
import { type FastTraps, startFastTraps } from './fast-traps.js';
import { scanGuest } from './full-scan.js';
import { type GuestContext, GuestContexts, type OpenReader } from './guest-context.js';
import type { GuardedBytes } from './guest-reader.js';
import { nativeReader } from './native-reader.js';
import { ProtectionView } from './protection-view.js';
import { Reporter } from './reporter.js';
import { retireSharedConsumers } from './retire-shared-consumers.js';
import { forwardScan } from './scan-forwarding.js';
import { SettleGroups } from './settle-groups.js';
import { Sweeper } from './sweep.js';
import { checkTrap } from './trap-check.js';
import { TrapIntake } from './trap-intake.js';
import { TrapsInHand } from './traps-in-hand.js';

const PRODUCT_VERSION = '0.1.0';
/**
 * How long one pull waits. A long pull still hands over each trap the moment it is stored; while
 * nothing comes, the server sends a heartbeat every half of it (the client allows at most 30 s) and
 * the pull is renewed when it expires: at 60 s an idle consumer wakes three times a minute, half as
 * often as at 30 s. Longer saves little more, and the client also waits up to this long between
 * checks that the consumer still exists when a reconnect finds JetStream not yet back.
 */
const IDLE_PULL_MS = 60_000;
/** Checked traps are remembered this long (past any redelivery after an outage), and at most this many. */
const REMEMBER_TRAPS_MS = 10 * 60_000;
const REMEMBER_TRAPS_MAX = 100_000;
// A scan passed to another host's scanner: a full scan there takes well under this.
const FORWARDED_SCAN_TIMEOUT_MS = 30_000;

export interface Scanner {
  readonly ctx: ServiceContext<ScannerConfig & { hostName: string; subjectPrefix: string }>;
  readonly sweeper: Sweeper;
  stats(): ScannerStatsReply;
  stop(): Promise<void>;
}

export interface StartScannerOptions extends Omit<StartServiceOptions<typeof ScannerConfig>, 'name' | 'config'> {
  /** How guest memory is read; the native core's guarded copy when omitted. */
  openReader?: OpenReader;
}

/**
 * Wires the scanner: the protection state from KV, the shared durable consumer of trap events,
 * the sweep, the periodic full scan (when configured), on-demand scans from the scan stream, and
 * the control service.
 */
export async function startScanner(options: StartScannerOptions = {}): Promise<Scanner> {
  const ctx = await startService({ defaultNice: DETECTION_PATH_NICE, ...options, name: 'scanner', config: ScannerConfig });
  const { config, logger, subjects } = ctx;
  try {
    const contexts = new GuestContexts(options.openReader ?? nativeReader(config.copyGuard), config.trustedModules);
    ctx.shutdown.add('guest memory', () => contexts.close());
    const view = await ProtectionView.open(ctx.js, config.subjectPrefix, logger, (g) =>
      logger.debug({ guest: g.guest, host: g.host }, 'guest protection state'),
    );
    ctx.shutdown.add('protection view', () => view.close());
    const context = async (guest: string): Promise<GuestContext> => {
      const v = view.guest(slugToken(guest));
      if (v === undefined) throw new VmiError(ScannerErrors.GUEST_UNKNOWN, guest);
      return contexts.get(v.guest);
    };
    // Set once the fast path is up (below); held traps' verdicts go back the way their traps came.
    let fast: FastTraps | null = null;
    const reporter = new Reporter(ctx.js, subjects, config.hostName, view, (verdict) => fast?.handBack(verdict) ?? false);
    const counters = { traps: 0, benign: 0, scans: 0, scansForwarded: 0 };
    const common = { view, context, reporter, host: config.hostName, productVersion: PRODUCT_VERSION };
    const inHand = new TrapsInHand();
    const settle = new SettleGroups<GuardedBytes>(config.stringQuietMs, Math.max(config.stringQuietMs, config.stringSettleMaxMs));

    const sweeper = new Sweeper({ ...common, inHand, logger, periodMs: config.sweepPeriodMs, graceMs: config.sweepGraceMs });
    sweeper.start();
    ctx.shutdown.add('sweep', () => sweeper.stop());

    if (config.periodicScanMs > 0) {
      // One scan per guest at a time (a slow scan is not stacked on), and stopping waits for the
      // scans in progress before guest memory is closed under them.
      const scanning = new Map<string, Promise<void>>();
      const periodic = setInterval(() => {
        for (const v of view.onHost(config.hostName)) {
          const guest = v.guest.guest;
          if (scanning.has(guest)) continue;
          const scan = scanGuest(guest, [], common)
            .then(() => undefined)
            .catch((err: unknown) => logger.error({ err }, 'periodic scan failed'))
            .finally(() => scanning.delete(guest));
          scanning.set(guest, scan);
        }
      }, config.periodicScanMs);
      ctx.shutdown.add('periodic scan', async () => {
        clearInterval(periodic);
        await Promise.allSettled([...scanning.values()]);
      });
    }

    const trapDeps = { ...common, stateWaitMs: config.stateWaitMs, settle, inHand };
    const intake = new TrapIntake(
      async (event, parent) => {
        const outcome =
          parent === undefined
            ? await checkTrap(event, trapDeps)
            : await withSpan('trap check', () => checkTrap(event, trapDeps), { parent, kind: SpanKind.CONSUMER });
        counters.traps += 1;
        if (!outcome.malicious) counters.benign += 1;
      },
      {
        maxFastInFlight: config.trapConcurrency,
        // Without a fast path every trap comes durably: nothing to wait for.
        graceMs: config.fastTraps || config.trapHandoffSocket !== undefined ? config.fastTrapGraceMs : 0,
        rememberMs: REMEMBER_TRAPS_MS,
        rememberMax: REMEMBER_TRAPS_MAX,
      },
    );
    const trapConsumer = CONSUMERS.scannerTraps(config.hostName, config.subjectPrefix);
    await retireSharedConsumers(ctx.nc, config.subjectPrefix, logger);
    await ctx.consume({
      consumer: trapConsumer,
      validator: validators.trapEvent,
      concurrency: config.trapConcurrency,
      fetchExpiresMs: IDLE_PULL_MS,
      handler: (event, message) => intake.durable(event, message.deliveryCount, message.headers?.get(NATS_HEADERS.fastCopy) !== 'none'),
    });
    fast = startFastTraps({
      nc: ctx.nc,
      subjects,
      host: config.hostName,
      handoffSocket: config.trapHandoffSocket,
      subscribe: config.fastTraps,
      queue: trapConsumer.durable_name,
      intake,
      logger,
    });
    const fastTraps = fast;
    if (fastTraps !== null) ctx.shutdown.add('fast traps', () => fastTraps.stop());
    await ctx.consume({
      consumer: CONSUMERS.scannerScans(config.hostName, config.subjectPrefix),
      validator: validators.scanRequest,
      fetchExpiresMs: IDLE_PULL_MS,
      handler: async (request) => {
        await scanGuest(request.guest, request.rules, common);
        counters.scans += 1;
      },
    });

    const stats = (): ScannerStatsReply => ({
      traps: counters.traps,
      fast_traps: intake.counters.fast,
      durable_traps: intake.counters.durable,
      fast_deferred: intake.counters.deferred,
      handoff_traps: fast?.handedOver() ?? 0,
      findings: reporter.counters.findings,
      benign: counters.benign,
      verdicts: reporter.counters.verdicts,
      sweeps: sweeper.counters.sweeps,
      sweep_findings: sweeper.counters.findings,
      scans: counters.scans,
      scans_forwarded: counters.scansForwarded,
      rejected: view.rejected,
      guests: view.all().map((v) => v.guest.guest),
    });
    const control: Service = await startScannerControl(
      ctx.nc,
      subjects,
      config.hostName,
      {
        scan: async (guest, rules, route) => {
          const host = view.guest(slugToken(guest))?.guest.host;
          if (route && host !== undefined && slugToken(host) !== slugToken(config.hostName)) {
            counters.scansForwarded += 1;
            return forwardScan(ctx.nc, subjects, host, { guest, rules: [...rules] }, FORWARDED_SCAN_TIMEOUT_MS);
          }
          const reply = await scanGuest(guest, rules, common);
          counters.scans += 1;
          return reply;
        },
        sweep: async () => {
          await sweeper.sweep();
          return stats();
        },
        stats,
      },
      logger,
    );
    ctx.shutdown.add('control', () => control.stop().then(() => undefined));
    logger.info({ sweepPeriodMs: config.sweepPeriodMs, periodicScanMs: config.periodicScanMs }, 'scanner running');
    return { ctx: ctx as Scanner['ctx'], sweeper, stats, stop: () => ctx.shutdown.run('stop') };
  } catch (err) {
    await ctx.shutdown.run('start failed');
    throw err;
  }
}
