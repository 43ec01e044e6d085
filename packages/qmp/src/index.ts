/** @vmi/qmp: a client for QEMU's machine protocol (QMP) over a UNIX socket. */
export { cont, type QmpMemdev, type QmpStatus, queryMemdev, queryStatus, quit, stop } from './commands.js';
export { DEFAULT_MAX_LINE_BYTES, type DecodedLine, JsonLineDecoder } from './json-lines.js';
export { type InputTarget, inputSendEvent, type KeyInputEvent, keyEvent, qcodesForChar, sendKeys, typeText } from './keys.js';
export { classifyMessage, type QmpEvent, type QmpGreeting, type QmpMessage } from './messages.js';
export {
  QmpClient,
  type QmpClientEvents,
  type QmpConnectOptions,
  type QmpExecuteOptions,
  type QmpStats,
} from './qmp-client.js';
