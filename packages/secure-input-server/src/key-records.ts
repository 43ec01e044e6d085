import { InputErrors, type KeyEvent, VmiError } from '@vmi/contracts';
import { KNOWN_QCODES } from './keymap.js';

/**
 * A record's plaintext: its key events, each as one flag byte (bit 0: down), one length byte and the
 * ASCII `QKeyCode`. Binary rather than JSON so that the sender holds the plaintext in one byte
 * buffer it can zero after sealing.
 */
export function encodeKeyRecord(events: readonly KeyEvent[]): Uint8Array {
  let size = 0;
  for (const e of events) size += 2 + e.qcode.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const e of events) {
    out[at++] = e.down ? 1 : 0;
    out[at++] = e.qcode.length;
    for (let i = 0; i < e.qcode.length; i++) out[at++] = e.qcode.charCodeAt(i) & 0x7f;
  }
  return out;
}

/** Parses a record's plaintext; anything but well-formed known keys is `VMI_ERR_INPUT_RECORD_MALFORMED`. */
export function decodeKeyRecord(bytes: Uint8Array): KeyEvent[] {
  const out: KeyEvent[] = [];
  let at = 0;
  while (at < bytes.byteLength) {
    const flags = bytes[at];
    const length = bytes[at + 1];
    if (flags === undefined || length === undefined || flags > 1 || length === 0 || at + 2 + length > bytes.byteLength) {
      throw new VmiError(InputErrors.RECORD_MALFORMED, `plaintext at byte ${at}`);
    }
    const qcode = String.fromCharCode(...bytes.subarray(at + 2, at + 2 + length));
    if (!KNOWN_QCODES.has(qcode)) throw new VmiError(InputErrors.RECORD_MALFORMED, `unknown key at byte ${at}`);
    out.push({ qcode, down: flags === 1 });
    at += 2 + length;
  }
  if (out.length === 0) throw new VmiError(InputErrors.RECORD_MALFORMED, 'empty record');
  return out;
}
