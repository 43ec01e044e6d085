import { AuditErrors, VmiError } from '@vmi/contracts';
import type { EventFilter } from '../store/query-events.js';

interface FilterQuery {
  from?: string | undefined;
  to?: string | undefined;
  host?: string | undefined;
  guest?: string | undefined;
  type?: string | undefined;
  severity?: string | undefined;
  rule?: string | undefined;
}

/** The validated query string as a store filter; a reversed or empty time range is a 400. */
export function toEventFilter(query: FilterQuery, fixedType?: string): EventFilter {
  const from = query.from === undefined ? undefined : new Date(query.from);
  const to = query.to === undefined ? undefined : new Date(query.to);
  if (from !== undefined && to !== undefined && from.getTime() >= to.getTime()) {
    throw new VmiError(AuditErrors.BAD_RANGE, 'from must be before to', { path: '/querystring/to' });
  }
  return {
    from,
    to,
    host: query.host,
    guest: query.guest,
    type: fixedType ?? query.type,
    severity: query.severity,
    rule: query.rule,
  };
}
