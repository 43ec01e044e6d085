import { defineErrors } from './vmi-error.js';

/** Errors any package may raise: validation, configuration, transport. */
export const CoreErrors = defineErrors('VMI_ERR', {
  VALIDATION: { status: 400, message: 'Message failed validation' },
  JSON_PARSE: { status: 400, message: 'Payload is not valid JSON' },
  UNKNOWN_MESSAGE_TYPE: { status: 400, message: 'Unknown message type' },
  SUBJECT_TOKEN: { status: 400, message: 'Invalid subject token' },
  SUBJECT_PARSE: { status: 400, message: 'Subject does not match the expected pattern' },
  CONFIG: { status: 500, message: 'Invalid configuration' },
  NATS_UNAVAILABLE: { status: 503, message: 'NATS is unavailable' },
  SHUTTING_DOWN: { status: 503, message: 'Service is shutting down' },
  NOT_FOUND: { status: 404, message: 'Not found' },
  UNAUTHORIZED: { status: 401, message: 'Authentication required' },
  FORBIDDEN: { status: 403, message: 'Not permitted' },
  CONFLICT: { status: 409, message: 'Conflict' },
  TIMEOUT: { status: 504, message: 'Timed out' },
  INTERNAL: { status: 500, message: 'Internal error' },
});
