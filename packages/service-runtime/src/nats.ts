import { readFileSync } from 'node:fs';
import { type Authenticator, connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { CoreErrors, VmiError } from '@vmi/contracts';
import type { Logger } from './logger.js';

export interface ConnectNatsOptions {
  /** One URL or several, comma-separated or as a list. */
  servers: string | readonly string[];
  /** Connection name shown by the server (`nats server report connections`). */
  name: string;
  user?: string | undefined;
  pass?: string | undefined;
  /** Path to a credentials file (JWT + nkey seed). */
  credsFile?: string | undefined;
  logger: Logger;
  /** Keep trying when the server is down at start (services: yes; tools and tests: no). */
  waitOnFirstConnect?: boolean;
  /** Milliseconds between reconnect attempts (jitter is added). */
  reconnectTimeWaitMs?: number;
}

/**
 * Connects to NATS, reconnecting forever with jittered back-off, and logs every status change
 * (disconnect, reconnect, errors). Closing is the caller's: drain it on shutdown.
 */
export async function connectNats(options: ConnectNatsOptions): Promise<NatsConnection> {
  const servers = typeof options.servers === 'string' ? options.servers.split(',').map((s) => s.trim()) : [...options.servers];
  let authenticator: Authenticator | undefined;
  if (options.credsFile !== undefined) {
    const file = options.credsFile;
    authenticator = credsAuthenticator(() => readFileSync(file));
  }
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      name: options.name,
      ...(options.user === undefined ? {} : { user: options.user, pass: options.pass }),
      ...(authenticator === undefined ? {} : { authenticator }),
      maxReconnectAttempts: -1,
      reconnectTimeWait: options.reconnectTimeWaitMs ?? 1000,
      reconnectJitter: 500,
      waitOnFirstConnect: options.waitOnFirstConnect ?? false,
      pingInterval: 20_000,
      // Otherwise every request (each JetStream publish and KV get among them) captures two stack
      // traces in advance, in case it fails: a cost on the path of every trap and finding.
      noAsyncTraces: true,
    });
  } catch (cause) {
    throw new VmiError(CoreErrors.NATS_UNAVAILABLE, servers.join(','), { cause });
  }
  const log = options.logger.child({ component: 'nats' });
  log.info({ server: nc.getServer() }, 'connected to NATS');
  void (async () => {
    for await (const s of nc.status()) {
      switch (s.type) {
        case 'disconnect':
        case 'staleConnection':
          log.warn({ status: s.type, server: 'server' in s ? s.server : undefined }, 'NATS connection lost');
          break;
        case 'reconnect':
          log.info({ status: s.type, server: s.server }, 'NATS reconnected');
          break;
        case 'error':
          log.error({ status: s.type, err: s.error }, 'NATS error');
          break;
        case 'slowConsumer':
          log.warn({ status: s.type, sub: s.sub.getSubject() }, 'NATS slow consumer');
          break;
        case 'reconnecting':
        case 'ping':
          break;
        default:
          log.debug({ status: s.type }, 'NATS status');
      }
    }
  })();
  return nc;
}

export type { NatsConnection } from '@nats-io/transport-node';
