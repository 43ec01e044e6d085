import type { NatsConnection } from '@nats-io/transport-node';
import {
  allErrorDefinitions,
  CoreErrors,
  type ErrorDefinition,
  ScannerErrors,
  type ScannerScanReply,
  type ScannerScanRequest,
  type Subjects,
  slugToken,
  VmiError,
  validators,
} from '@vmi/contracts';

/** The control subject root of the scanners of one host: `<prefix>.ctl.scanner.<host>`. */
export function hostControlSubject(subjects: Subjects, host: string): string {
  return `${subjects.control('scanner')}.${slugToken(host)}`;
}

const known = new Map<string, ErrorDefinition>(allErrorDefinitions().map((d) => [d.code, d]));

/**
 * The error a scanner on the other host answered with, as this side's own: its catalogue code,
 * status and message. A reply that is not such a record (another version, a foreign responder) is
 * refused as an internal error rather than passed on.
 */
function remoteError(host: string, data: Uint8Array): VmiError {
  let record: unknown;
  try {
    record = JSON.parse(new TextDecoder().decode(data));
  } catch {
    record = null;
  }
  const { code, message } = (typeof record === 'object' && record !== null ? record : {}) as Record<string, unknown>;
  const def = typeof code === 'string' ? known.get(code) : undefined;
  if (def === undefined || typeof message !== 'string') {
    return new VmiError(CoreErrors.INTERNAL, `the scanner on ${host} answered with an unreadable error`);
  }
  return new VmiError({ code: def.code, status: def.status, message: message.slice(0, 2000) }, undefined, { details: { host } });
}

/**
 * Runs an on-demand scan of another host's guest on a scanner of that host (its RAM file is a path
 * there) and relays the reply, validated like any input. No scanner answering there is
 * `HOST_UNAVAILABLE`; its errors come back with their own codes.
 */
export async function forwardScan(
  nc: NatsConnection,
  subjects: Subjects,
  host: string,
  request: ScannerScanRequest,
  timeoutMs: number,
): Promise<ScannerScanReply> {
  let reply: Awaited<ReturnType<NatsConnection['request']>>;
  try {
    reply = await nc.request(`${hostControlSubject(subjects, host)}.scan`, JSON.stringify(request), { timeout: timeoutMs });
  } catch (cause) {
    // The cause says which (no responders, a timeout); nats.js repeats it down its chain of causes.
    throw new VmiError(ScannerErrors.HOST_UNAVAILABLE, host, { cause, details: { host } });
  }
  if (reply.headers?.get('Nats-Service-Error-Code')) throw remoteError(host, reply.data);
  try {
    return validators.scannerScanReply.decode(reply.data);
  } catch (cause) {
    throw new VmiError(CoreErrors.INTERNAL, `the scanner on ${host} answered with an invalid scan reply`, { cause });
  }
}
