import { defineErrors } from './vmi-error.js';

/** Errors of the scanner: protection state, guarded copies, checks. */
export const ScannerErrors = defineErrors('VMI_ERR_SCANNER', {
  GUEST_UNKNOWN: { status: 404, message: 'No protection state for this guest' },
  BASELINE_MISSING: { status: 404, message: 'No baseline for this protected object' },
  STATE_INVALID: { status: 400, message: 'Protection state record is invalid' },
  TRAP_MISMATCH: { status: 400, message: 'Trap does not match the protected object' },
  COPY_FAILED: { status: 503, message: 'Guarded copy failed' },
  MEMORY_UNAVAILABLE: { status: 503, message: 'Guest memory could not be opened' },
  GUEST_ELSEWHERE: { status: 421, message: 'The guest is on another host: only a scanner there can read its memory' },
  HOST_UNAVAILABLE: { status: 503, message: "No scanner on the guest's host answered" },
});
