import { newId, nowIso, SCHEMA_VERSION, type ScanRequest } from '@vmi/contracts';

/** A valid scan request (a small message type that exercises the whole pipeline). */
export function scanRequest(overrides: Partial<ScanRequest> = {}): ScanRequest {
  return {
    id: newId(),
    time: nowIso(),
    version: SCHEMA_VERSION,
    type: 'scan-request',
    host: 'hv-01',
    guest: 'web-1',
    rules: ['syscall-table'],
    reason: 'on-demand',
    requested_by: 'operator',
    ...overrides,
  };
}
