import { defineErrors } from './vmi-error.js';

/** Errors of the test/demo guest: its QMP monitor, image builder and launcher. */
export const GuestErrors = defineErrors('VMI_ERR_GUEST', {
  QMP_CONNECT: { status: 503, message: 'Could not connect to the QMP socket' },
  QMP_PROTOCOL: { status: 502, message: 'QMP peer broke the protocol' },
  QMP_COMMAND: { status: 502, message: 'QMP command failed' },
  QMP_TIMEOUT: { status: 504, message: 'QMP command timed out' },
  QMP_CLOSED: { status: 503, message: 'QMP connection is closed' },
  INVALID_ARGUMENT: { status: 400, message: 'Invalid argument' },
  IMAGE_BUILD: { status: 500, message: 'Guest image build failed' },
  PACKAGE_INSTALL: { status: 500, message: 'Installing a required package failed' },
  LAUNCH: { status: 500, message: 'Guest launch failed' },
  BOOT_TIMEOUT: { status: 504, message: 'Guest did not become ready in time' },
  EXEC_TIMEOUT: { status: 504, message: 'Guest command did not finish in time' },
  EXITED: { status: 503, message: 'Guest is not running' },
  GUEST_OUTPUT: { status: 502, message: 'Guest output was not understood' },
});
