import { defineErrors } from './vmi-error.js';

/**
 * Errors of the native core (@vmi/native-core): guest memory, page walks, hashing, guarded copy and
 * the trap engine. The C++ side throws the same codes (native/common/native_error.h); the facade
 * turns them into these entries.
 */
export const NativeErrors = defineErrors('VMI_ERR_NATIVE', {
  ADDON_LOAD: { status: 500, message: 'The native addon could not be loaded' },
  BAD_ARGUMENT: { status: 400, message: 'Invalid argument to a native function' },
  BAD_HANDLE: { status: 400, message: 'Not a native handle of the expected kind' },
  CLOSED: { status: 409, message: 'The native object is closed' },
  OPEN_FAILED: { status: 500, message: 'Could not open or map a file' },
  FILE_TRUNCATED: { status: 500, message: 'The mapped file is shorter than its mapping' },
  READ_ONLY: { status: 409, message: 'The mapping is read-only' },
  OUT_OF_RANGE: { status: 416, message: 'Address is outside guest memory' },
  UNMAPPED: { status: 404, message: 'Virtual address is not mapped' },
  NON_CANONICAL: { status: 400, message: 'Virtual address is not canonical' },
  BAD_PAGE_TABLE: { status: 422, message: 'Malformed guest page table' },
  BAD_GENERATION_TABLE: { status: 422, message: 'Malformed write-generation table' },
  GUARD_UNAVAILABLE: { status: 503, message: 'The requested copy guard is not available' },
  TORN_COPY: { status: 409, message: 'Guest writes kept tearing the copy' },
  HASH_FAILED: { status: 500, message: 'Hashing failed' },
  PAUSE_FAILED: { status: 502, message: 'Pausing or resuming the guest failed' },
  RSP_PROTOCOL: { status: 502, message: 'GDB remote serial protocol violation' },
  RSP_CHECKSUM: { status: 502, message: 'GDB remote serial protocol checksum mismatch' },
  RSP_RUN_LENGTH: { status: 502, message: 'Malformed run-length encoding in a GDB remote serial protocol packet' },
  RSP_ESCAPE: { status: 502, message: 'Malformed escape in GDB remote serial protocol binary data' },
  RSP_TOO_LONG: { status: 502, message: 'GDB remote serial protocol packet exceeds the size bound' },
  RSP_HEX: { status: 502, message: 'Malformed hex data in a GDB remote serial protocol packet' },
  RSP_STOP_REPLY: { status: 502, message: 'Malformed GDB remote serial protocol stop reply' },
  RSP_ERROR_REPLY: { status: 502, message: 'The gdbstub answered with an error' },
  RSP_UNSUPPORTED: { status: 502, message: 'The gdbstub does not support the request' },
  TRAP_UNAVAILABLE: { status: 503, message: 'The trap backend is not available for this guest' },
  TRAP_PROTOCOL: { status: 502, message: 'The trap backend peer broke its protocol' },
  TRAP_REJECTED: { status: 422, message: 'The trap backend refused the request' },
  TRAP_NOT_FOUND: { status: 404, message: 'Unknown watch or trap event' },
  TRAP_TIMEOUT: { status: 504, message: 'The trap backend peer did not answer in time' },
  TRAP_IO: { status: 500, message: 'A system call of the trap backend failed' },
  OUT_OF_MEMORY: { status: 500, message: 'Native allocation failed' },
  INTERNAL: { status: 500, message: 'Internal native error' },
});
