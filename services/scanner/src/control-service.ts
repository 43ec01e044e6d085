import { type Service, type ServiceMsg, Svcm } from '@nats-io/services';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  CoreErrors,
  type MessageValidator,
  type ScannerScanReply,
  type ScannerStatsReply,
  type Subjects,
  VmiError,
  validators,
} from '@vmi/contracts';
import { errorRecord, type Logger } from '@vmi/service-runtime';
import type { Static, TSchema } from 'typebox';
import { hostControlSubject } from './scan-forwarding.js';

export interface ScannerControl {
  /**
   * Scans a guest of this host. With `route`, a guest of another host is passed to a scanner
   * there; without, it is refused (`GUEST_ELSEWHERE`), so a passed request never travels on.
   */
  scan(guest: string, rules: readonly string[], route: boolean): Promise<ScannerScanReply>;
  sweep(): Promise<ScannerStatsReply>;
  stats(): ScannerStatsReply;
}

function serve<T extends TSchema>(
  msg: ServiceMsg,
  validator: MessageValidator<T> | null,
  handler: (r: Static<T>) => unknown,
  logger: Logger,
) {
  void (async () => {
    try {
      const request = validator === null ? ({} as Static<T>) : validator.decode(msg.data.length === 0 ? '{}' : msg.data);
      msg.respond(JSON.stringify(await handler(request)));
    } catch (err) {
      const record = errorRecord(err);
      const status = err instanceof VmiError ? err.status : CoreErrors.INTERNAL.status;
      if (status >= 500) logger.error({ err, subject: msg.subject }, 'control request failed');
      msg.respondError(status, record.message, JSON.stringify(record));
    }
  })();
}

/**
 * A NATS micro service in two queue groups:
 * - `vmi.ctl.scanner.{scan,sweep,stats}`: any one scanner instance answers; a scan of another
 *   host's guest is passed to a scanner on that host;
 * - `vmi.ctl.scanner.<host>.{scan,sweep,stats}`: one of this host's scanners answers, for this
 *   host's guests only.
 */
export async function startScannerControl(
  nc: NatsConnection,
  subjects: Subjects,
  host: string,
  control: ScannerControl,
  logger: Logger,
): Promise<Service> {
  // @nats-io/services pins an older nats-core whose types differ only nominally from the client's.
  const service = await new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]).add({
    name: 'scanner',
    version: '0.1.0',
    description: 'On-demand scans, sweeps and statistics of the scanners',
  });
  for (const [root, route] of [
    [subjects.control('scanner'), true],
    [hostControlSubject(subjects, host), false],
  ] as const) {
    const group = service.addGroup(root);
    group.addEndpoint('scan', {
      handler: (_e, m) => serve(m, validators.scannerScanRequest, (r) => control.scan(r.guest, r.rules ?? [], route), logger),
    });
    group.addEndpoint('sweep', { handler: (_e, m) => serve(m, null, () => control.sweep(), logger) });
    group.addEndpoint('stats', { handler: (_e, m) => serve(m, null, () => control.stats(), logger) });
  }
  return service;
}
