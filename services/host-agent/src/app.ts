import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Service } from '@nats-io/services';
import { AgentErrors, type AgentListReply, type AgentStatsReply, slugToken, type Verdict, VmiError, validators } from '@vmi/contracts';
import { DETECTION_PATH_NICE, type ServiceContext, type StartServiceOptions, startService } from '@vmi/service-runtime';
import { BaselineStore } from './baseline-store.js';
import { AgentConfig } from './config.js';
import { startAgentControl } from './control-service.js';
import { type GuestConfig, loadGuestsFile } from './guest-config.js';
import { type GuestBackends, GuestSession } from './guest-session.js';
import { nativeBackends } from './native-backends.js';
import { Outbox } from './outbox.js';
import { TrapHandoff } from './trap-handoff.js';

export interface HostAgent {
  readonly ctx: ServiceContext<AgentConfig & { hostName: string; subjectPrefix: string }>;
  readonly sessions: ReadonlyMap<string, GuestSession>;
  readonly outbox: Outbox;
  stop(): Promise<void>;
}

export interface StartAgentOptions extends Omit<StartServiceOptions<typeof AgentConfig>, 'name' | 'config'> {
  /** Guests to attach instead of (or before) the guests file. */
  guests?: readonly GuestConfig[];
  /** Trap backends and memory access; the native core when omitted. */
  backends?: GuestBackends;
}

/**
 * Wires the host agent: configuration, NATS, the protection KV bucket, one session per guest, the
 * verdict subscription for enforce mode and the control service. Shutting down detaches every
 * guest first (held vCPUs go, storm windows are summarised), then drains the outbox and NATS.
 */
export async function startAgent(options: StartAgentOptions = {}): Promise<HostAgent> {
  const ctx = await startService({ defaultNice: DETECTION_PATH_NICE, ...options, name: 'host-agent', config: AgentConfig });
  const { config, logger, subjects } = ctx;
  try {
    const guests = [...(options.guests ?? []), ...(config.guestsFile === undefined ? [] : await loadGuestsFile(config.guestsFile))];
    const store = await BaselineStore.open(ctx.js, config.subjectPrefix);
    const outbox = new Outbox({ js: ctx.js, logger });
    // Guest sessions by subject token, for verdicts (filled once the sessions exist, before any trap).
    const bySlug = new Map<string, GuestSession>();
    const applyVerdict = (v: Verdict) => bySlug.get(slugToken(v.guest))?.verdict(v);
    const handoff =
      config.trapHandoffSocket === undefined ? null : await TrapHandoff.listen(config.trapHandoffSocket, logger, applyVerdict);
    const generationDir = join(tmpdir(), `vmi-generations-${process.pid}`);
    mkdirSync(generationDir, { recursive: true });
    const backends = options.backends ?? nativeBackends(logger, generationDir);
    const sessions = new Map<string, GuestSession>();
    for (const guest of guests) {
      sessions.set(
        guest.name,
        new GuestSession({ guest, host: config.hostName, config, subjects, outbox, handoff, store, backends, logger }),
      );
    }
    for (const s of sessions.values()) bySlug.set(slugToken(s.name), s);

    // Verdicts for held traps of this host's guests (the scanner publishes them to JetStream; a core
    // subscription sees each as it is stored).
    const verdicts = ctx.nc.subscribe(`${subjects.prefix}.verdict.${slugToken(config.hostName)}.*`, {
      callback: (err, msg) => {
        if (err !== null) return;
        try {
          applyVerdict(validators.verdict.decode(msg.data));
        } catch (e) {
          logger.warn({ err: (e as Error).message }, 'verdict refused');
        }
      },
    });

    const session = (name: string): GuestSession => {
      const s = sessions.get(name);
      if (s === undefined) throw new VmiError(AgentErrors.GUEST_UNKNOWN, name);
      return s;
    };
    const list = (guest: string | undefined): AgentListReply => ({
      guests: (guest === undefined ? [...sessions.values()] : [session(guest)]).map((s) => s.status()),
    });
    const control: Service = await startAgentControl(
      ctx.nc,
      subjects,
      config.hostName,
      {
        list,
        protect: async (guest, rule) => ({ guest, regions: await session(guest).protect(rule) }),
        unprotect: async (guest, rule) => ({ guest, regions: await session(guest).unprotect(rule) }),
        pause: async (guest, paused) => {
          await session(guest).pause(paused);
          return list(guest);
        },
        stats: (): AgentStatsReply => ({ guests: [...sessions.values()].map((s) => s.stats()) }),
      },
      logger,
    );

    let stopping: Promise<void> | undefined;
    const stopAll = () => {
      stopping ??= (async () => {
        await control.stop().catch(() => undefined);
        verdicts.unsubscribe();
        await Promise.allSettled([...sessions.values()].map((s) => s.stop()));
        await handoff?.close();
        await outbox.close();
        rmSync(generationDir, { recursive: true, force: true });
      })();
      return stopping;
    };
    ctx.shutdown.add('guests', stopAll);
    ctx.health.addCheck('guests', () => [...sessions.values()].every((s) => s.status().attached));

    await Promise.all([...sessions.values()].map((s) => s.start()));
    logger.info({ guests: guests.map((g) => g.name) }, 'host agent running');
    return {
      ctx: ctx as HostAgent['ctx'],
      sessions,
      outbox,
      stop: async () => {
        await ctx.shutdown.run('stop');
      },
    };
  } catch (err) {
    await ctx.shutdown.run('start failed');
    throw err;
  }
}
