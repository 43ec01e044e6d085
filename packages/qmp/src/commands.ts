import { GuestErrors, VmiError } from '@vmi/contracts';
import type { QmpClient } from './qmp-client.js';

/** `query-status`: whether the vCPUs run and QEMU's run state (`running`, `paused`, `shutdown`, ...). */
export interface QmpStatus {
  readonly running: boolean;
  readonly status: string;
}

/** One memory backend from `query-memdev`. */
export interface QmpMemdev {
  readonly id: string | undefined;
  readonly size: number;
  readonly share: boolean | undefined;
  readonly merge: boolean;
  readonly dump: boolean;
  readonly prealloc: boolean;
  readonly policy: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function protocolError(command: string, what: string): VmiError {
  return new VmiError(GuestErrors.QMP_PROTOCOL, `${command} returned ${what}`, { details: { command } });
}

export async function queryStatus(client: QmpClient): Promise<QmpStatus> {
  const value = await client.execute('query-status');
  if (!isRecord(value) || typeof value.running !== 'boolean' || typeof value.status !== 'string') {
    throw protocolError('query-status', 'an unexpected shape');
  }
  return { running: value.running, status: value.status };
}

export async function queryMemdev(client: QmpClient): Promise<QmpMemdev[]> {
  const value = await client.execute('query-memdev');
  if (!Array.isArray(value)) throw protocolError('query-memdev', 'no list');
  return value.map((entry) => {
    if (!isRecord(entry) || typeof entry.size !== 'number') throw protocolError('query-memdev', 'an entry without a size');
    return {
      id: typeof entry.id === 'string' ? entry.id : undefined,
      size: entry.size,
      share: typeof entry.share === 'boolean' ? entry.share : undefined,
      merge: entry.merge === true,
      dump: entry.dump === true,
      prealloc: entry.prealloc === true,
      policy: typeof entry.policy === 'string' ? entry.policy : 'default',
    };
  });
}

/** Pauses every vCPU. */
export async function stop(client: QmpClient): Promise<void> {
  await client.execute('stop');
}

/** Resumes the vCPUs. */
export async function cont(client: QmpClient): Promise<void> {
  await client.execute('cont');
}

/**
 * Asks QEMU to exit. QEMU may close the socket before or right after answering, so a closed
 * connection counts as success here.
 */
export async function quit(client: QmpClient, options: { timeoutMs?: number } = {}): Promise<void> {
  try {
    await client.execute('quit', undefined, options);
  } catch (error) {
    if (error instanceof VmiError && error.code === GuestErrors.QMP_CLOSED.code) return;
    throw error;
  }
}
