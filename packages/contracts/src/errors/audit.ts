import { defineErrors } from './vmi-error.js';

/** Errors of the audit service: its REST API and its ingest of the event streams. */
export const AuditErrors = defineErrors('VMI_ERR_AUDIT', {
  BAD_REQUEST: { status: 400, message: 'Request failed validation' },
  BAD_CURSOR: { status: 400, message: 'Cursor is malformed' },
  BAD_RANGE: { status: 400, message: 'Range is empty or reversed' },
  NOT_FOUND: { status: 404, message: 'No such record' },
  UNAUTHORIZED: { status: 401, message: 'A bearer token is required' },
  FORBIDDEN: { status: 403, message: 'The token lacks the scope this route needs' },
  ENVELOPE: { status: 400, message: 'Message lacks the envelope fields the audit trail indexes' },
  UNSTORABLE: { status: 400, message: 'Message holds a value the database cannot store' },
  MIGRATION: { status: 500, message: 'Database migration failed' },
  DATABASE: { status: 503, message: 'Database unavailable' },
});
