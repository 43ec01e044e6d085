import { InputErrors, type KeyEvent, VmiError } from '@vmi/contracts';

/**
 * QEMU `QKeyCode` names and the US layout. Consoles speak key events; people and tests speak text.
 * The gateway expands text into events, the server side folds events back into text.
 */

const UNSHIFTED: Record<string, string> = {
  spc: ' ',
  ret: '\n',
  tab: '\t',
  minus: '-',
  equal: '=',
  bracket_left: '[',
  bracket_right: ']',
  backslash: '\\',
  semicolon: ';',
  apostrophe: "'",
  grave_accent: '`',
  comma: ',',
  dot: '.',
  slash: '/',
};
const SHIFTED: Record<string, string> = {
  '1': '!',
  '2': '@',
  '3': '#',
  '4': '$',
  '5': '%',
  '6': '^',
  '7': '&',
  '8': '*',
  '9': '(',
  '0': ')',
  minus: '_',
  equal: '+',
  bracket_left: '{',
  bracket_right: '}',
  backslash: '|',
  semicolon: ':',
  apostrophe: '"',
  grave_accent: '~',
  comma: '<',
  dot: '>',
  slash: '?',
};
for (const c of 'abcdefghijklmnopqrstuvwxyz') {
  UNSHIFTED[c] = c;
  SHIFTED[c] = c.toUpperCase();
}
for (const d of '0123456789') UNSHIFTED[d] = d;

export const MODIFIERS: ReadonlySet<string> = new Set([
  'shift',
  'shift_r',
  'ctrl',
  'ctrl_r',
  'alt',
  'alt_r',
  'meta_l',
  'meta_r',
  'caps_lock',
]);

const OTHER_KEYS = [
  'backspace',
  'esc',
  'delete',
  'insert',
  'home',
  'end',
  'pgup',
  'pgdn',
  'up',
  'down',
  'left',
  'right',
  ...Array.from({ length: 12 }, (_, i) => `f${i + 1}`),
  ...Array.from({ length: 10 }, (_, i) => `kp_${i}`),
  'kp_multiply',
  'kp_add',
  'kp_subtract',
  'kp_divide',
  'kp_decimal',
  'kp_enter',
];

export const KNOWN_QCODES: ReadonlySet<string> = new Set([...Object.keys(UNSHIFTED), ...MODIFIERS, ...OTHER_KEYS]);

/** What the guest receives for each key while a secure connection has its focus: keypad `*`. */
export const PLACEHOLDER_QCODE = 'kp_multiply';

const CHAR_TO_KEY = new Map<string, { qcode: string; shift: boolean }>();
for (const [qcode, ch] of Object.entries(UNSHIFTED)) CHAR_TO_KEY.set(ch, { qcode, shift: false });
for (const [qcode, ch] of Object.entries(SHIFTED)) CHAR_TO_KEY.set(ch, { qcode, shift: true });

/**
 * Text as the key presses a US keyboard makes. Throws `VMI_ERR_INPUT_MALFORMED_KEY_EVENT` at the
 * first character the layout cannot type, naming only its position (the text may be secret).
 */
export function textToKeys(text: string): KeyEvent[] {
  const out: KeyEvent[] = [];
  let index = 0;
  for (const ch of text) {
    const key = CHAR_TO_KEY.get(ch);
    if (!key) throw new VmiError(InputErrors.MALFORMED_KEY_EVENT, `character ${index} has no key on the layout`, { path: '/text' });
    if (key.shift) out.push({ qcode: 'shift', down: true });
    out.push({ qcode: key.qcode, down: true }, { qcode: key.qcode, down: false });
    if (key.shift) out.push({ qcode: 'shift', down: false });
    index++;
  }
  return out;
}

/** Folds key events back into the text they type (key downs, shift state); other keys add nothing. */
export function keysToText(events: readonly KeyEvent[], state: { shift: number } = { shift: 0 }): string {
  let text = '';
  for (const e of events) {
    if (e.qcode === 'shift' || e.qcode === 'shift_r') {
      state.shift = Math.max(0, state.shift + (e.down ? 1 : -1));
      continue;
    }
    if (!e.down) continue;
    const ch = (state.shift > 0 ? SHIFTED : UNSHIFTED)[e.qcode];
    if (ch !== undefined) text += ch;
  }
  return text;
}

/** Checks that every event names a known key; throws `VMI_ERR_INPUT_MALFORMED_KEY_EVENT` with its index. */
export function assertKnownKeys(events: readonly KeyEvent[]): void {
  events.forEach((e, i) => {
    if (!KNOWN_QCODES.has(e.qcode)) {
      throw new VmiError(InputErrors.MALFORMED_KEY_EVENT, `event ${i}`, { path: `/keys/${i}/qcode` });
    }
  });
}
