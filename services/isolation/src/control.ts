import { type Service, type ServiceMsg, Svcm } from '@nats-io/services';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  CoreErrors,
  type IsolationListReply,
  type IsolationManifestReply,
  type KernelVmStatus,
  type MessageValidator,
  type Subjects,
  slugToken,
  VmiError,
  validators,
} from '@vmi/contracts';
import { errorRecord, type Logger } from '@vmi/service-runtime';
import type { Static, TSchema } from 'typebox';

/** What the control service asks of the isolation service. */
export interface IsolationControl {
  ensure(request: Static<typeof validators.isolationEnsureRequest.schema>): Promise<KernelVmStatus>;
  inspect(guest: string): KernelVmStatus;
  list(): IsolationListReply;
  stop(guest: string): Promise<KernelVmStatus>;
  restart(guest: string, component: string | undefined): Promise<KernelVmStatus>;
  /** Re-reads the manifest file; a bad one is refused and the current one stays. */
  reloadManifest(): Promise<IsolationManifestReply>;
  readonly rejected: { count: number };
}

function serve<T extends TSchema>(
  msg: ServiceMsg,
  validator: MessageValidator<T>,
  handler: (request: Static<T>) => unknown | Promise<unknown>,
  logger: Logger,
  rejected: { count: number },
): void {
  void (async () => {
    try {
      const request = validator.decode(msg.data.length === 0 ? '{}' : msg.data);
      msg.respond(JSON.stringify(await handler(request)));
    } catch (err) {
      const record = errorRecord(err);
      const status = err instanceof VmiError ? err.status : CoreErrors.INTERNAL.status;
      if (status < 500) rejected.count++;
      else logger.error({ err, subject: msg.subject }, 'control request failed');
      msg.respondError(status, record.message, JSON.stringify(record));
    }
  })();
}

/**
 * `vmi.ctl.isolation.<host>.{ensure,inspect,list,stop,restart,reload-manifest}`: a NATS micro service
 * (discoverable with `$SRV.PING`), one per management host, since kernel VMs live on one host.
 */
export async function startIsolationControl(
  nc: NatsConnection,
  subjects: Subjects,
  host: string,
  control: IsolationControl,
  logger: Logger,
): Promise<Service> {
  // @nats-io/services pins an older nats-core whose types differ only nominally from the client's.
  const service = await new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]).add({
    name: 'isolation',
    version: '0.1.0',
    description: 'Kernel VMs per guest: components in sandboxed execution environments',
    metadata: { host },
    queue: '',
  });
  const r = control.rejected;
  const group = service.addGroup(`${subjects.control('isolation')}.${slugToken(host)}`, '');
  group.addEndpoint('ensure', { handler: (_e, m) => serve(m, validators.isolationEnsureRequest, (q) => control.ensure(q), logger, r) });
  group.addEndpoint('inspect', {
    handler: (_e, m) => serve(m, validators.isolationGuestRequest, (q) => control.inspect(q.guest), logger, r),
  });
  group.addEndpoint('list', { handler: (_e, m) => serve(m, validators.isolationListRequest, () => control.list(), logger, r) });
  group.addEndpoint('stop', { handler: (_e, m) => serve(m, validators.isolationGuestRequest, (q) => control.stop(q.guest), logger, r) });
  group.addEndpoint('restart', {
    handler: (_e, m) => serve(m, validators.isolationRestartRequest, (q) => control.restart(q.guest, q.component), logger, r),
  });
  group.addEndpoint('reload-manifest', {
    handler: (_e, m) => serve(m, validators.isolationListRequest, () => control.reloadManifest(), logger, r),
  });
  return service;
}
