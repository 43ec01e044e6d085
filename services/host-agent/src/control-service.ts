import { type Service, type ServiceMsg, Svcm } from '@nats-io/services';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  type AgentListReply,
  type AgentProtectReply,
  type AgentStatsReply,
  CoreErrors,
  type MessageValidator,
  type Subjects,
  slugToken,
  VmiError,
  validators,
} from '@vmi/contracts';
import { errorRecord, type Logger } from '@vmi/service-runtime';
import type { Static, TSchema } from 'typebox';

/** What the control service asks of the agent. */
export interface AgentControl {
  list(guest: string | undefined): AgentListReply;
  protect(guest: string, rule: Static<typeof validators.agentProtectRequest.schema>['rule']): Promise<AgentProtectReply>;
  unprotect(guest: string, rule: string): Promise<AgentProtectReply>;
  pause(guest: string, paused: boolean): Promise<AgentListReply>;
  stats(): AgentStatsReply;
}

/** Decodes a request (an empty body is `{}`), runs the handler and answers JSON or a coded error. */
export function serve<T extends TSchema>(
  msg: ServiceMsg,
  validator: MessageValidator<T>,
  handler: (request: Static<T>) => unknown | Promise<unknown>,
  logger: Logger,
): void {
  void (async () => {
    try {
      const request = validator.decode(msg.data.length === 0 ? '{}' : msg.data);
      const reply = await handler(request);
      msg.respond(JSON.stringify(reply));
    } catch (err) {
      const record = errorRecord(err);
      const status = err instanceof VmiError ? err.status : CoreErrors.INTERNAL.status;
      if (status >= 500) logger.error({ err, subject: msg.subject }, 'control request failed');
      msg.respondError(status, record.message, JSON.stringify(record));
    }
  })();
}

/**
 * `vmi.ctl.host-agent.<host>.{list,protect,unprotect,pause,stats}`: a NATS micro service (discoverable
 * with `$SRV.PING`), one per agent, so an operator addresses the agent of one hypervisor host.
 */
export async function startAgentControl(
  nc: NatsConnection,
  subjects: Subjects,
  host: string,
  agent: AgentControl,
  logger: Logger,
): Promise<Service> {
  // @nats-io/services pins an older nats-core whose types differ only nominally from the client's.
  const service = await new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]).add({
    name: 'host-agent',
    version: '0.1.0',
    description: 'Guests, protected regions and trap handling of one host agent',
    metadata: { host },
    queue: '',
  });
  const group = service.addGroup(`${subjects.control('host-agent')}.${slugToken(host)}`, '');
  group.addEndpoint('list', { handler: (_e, m) => serve(m, validators.agentListRequest, (r) => agent.list(r.guest), logger) });
  group.addEndpoint('protect', {
    handler: (_e, m) => serve(m, validators.agentProtectRequest, (r) => agent.protect(r.guest, r.rule), logger),
  });
  group.addEndpoint('unprotect', {
    handler: (_e, m) => serve(m, validators.agentUnprotectRequest, (r) => agent.unprotect(r.guest, r.rule), logger),
  });
  group.addEndpoint('pause', { handler: (_e, m) => serve(m, validators.agentPauseRequest, (r) => agent.pause(r.guest, r.paused), logger) });
  group.addEndpoint('stats', { handler: (_e, m) => serve(m, validators.agentListRequest, () => agent.stats(), logger) });
  return service;
}
