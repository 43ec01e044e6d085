import { streamName } from '@vmi/contracts';
import { deleteConsumers, type Logger, type NatsConnection } from '@vmi/service-runtime';

/**
 * Scanners once shared one trap consumer and one scan consumer across every host, although only a
 * scanner on a guest's host can read its memory; each host's scanners now have their own, filtered
 * on the host. The old ones go: the scan stream is a work queue, where an unfiltered consumer
 * beside the per-host ones is refused, and an old trap consumer would hold traps nobody checks.
 */
export async function retireSharedConsumers(nc: NatsConnection, prefix: string, logger: Logger): Promise<void> {
  for (const [stream, name] of [
    [streamName('traps', prefix), 'scanner-traps'],
    [streamName('scans', prefix), 'scanner-scans'],
  ] as const) {
    const deleted = await deleteConsumers(nc, stream, [name]);
    if (deleted.length > 0) logger.info({ stream, consumer: name }, 'retired the consumer all hosts shared; this host has its own');
  }
}
