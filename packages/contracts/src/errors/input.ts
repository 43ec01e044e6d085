import { defineErrors } from './vmi-error.js';

/**
 * Errors of secure input: the gateway's control API and key endpoint, delivery to an application's
 * server, and the server side's record checks. Messages never carry input or key material.
 */
export const InputErrors = defineErrors('VMI_ERR_INPUT', {
  UNKNOWN_GUEST: { status: 404, message: 'No keyboard is attached for this guest' },
  UNKNOWN_CONNECTION: { status: 404, message: 'No such security connection' },
  MALFORMED_KEY: { status: 400, message: 'The public key is not a valid key for the cipher suite' },
  UNSUPPORTED_ALGORITHM: { status: 400, message: 'The cipher suite is not supported' },
  BAD_ENDPOINT: { status: 400, message: 'The server endpoint must be an https URL' },
  BAD_CA: { status: 400, message: 'The pinned CA is not a PEM certificate' },
  MALFORMED_KEY_EVENT: { status: 400, message: 'A key event names no known key' },
  CONNECTION_CLOSED: { status: 410, message: 'The security connection is closed; input refused' },
  CONNECTION_EXPIRED: { status: 410, message: 'The security connection has expired; input refused' },
  QUEUE_FULL: { status: 429, message: 'Too much undelivered input for this connection' },
  GUEST_KEYBOARD: { status: 503, message: "Keys could not be sent to the guest's keyboard" },
  SERVER_UNREACHABLE: { status: 503, message: 'The application server is unreachable' },
  SERVER_REJECTED: { status: 502, message: 'The application server rejected the records' },
  RECORD_MALFORMED: { status: 400, message: 'Malformed or truncated record' },
  RECORD_AUTH: { status: 400, message: 'Record failed authentication' },
  REPLAY: { status: 409, message: 'Record sequence already accepted (replay)' },
  OUT_OF_ORDER: { status: 409, message: 'Record sequence out of order' },
  CONTEXT_MISMATCH: { status: 409, message: 'Record does not belong to the established connection context' },
  UNKNOWN_SENDER: { status: 401, message: 'Records were sealed by a key this server does not pin' },
  CONNECTION_ENDED: { status: 410, message: 'The server has ended this connection' },
});
