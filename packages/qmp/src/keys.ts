import { GuestErrors, VmiError } from '@vmi/contracts';
import type { QmpClient } from './qmp-client.js';

/** One `input-send-event` key event; keys are named by QEMU qcode (`a`, `shift`, `ret`, `spc`, ...). */
export interface KeyInputEvent {
  readonly type: 'key';
  readonly data: { readonly down: boolean; readonly key: { readonly type: 'qcode'; readonly data: string } };
}

export interface InputTarget {
  /** The QEMU input device id; QEMU picks the active keyboard when absent. */
  readonly device?: string;
  readonly head?: number;
}

const QCODE = /^[a-z0-9_]{1,32}$/;

export function keyEvent(qcode: string, down: boolean): KeyInputEvent {
  if (!QCODE.test(qcode)) throw new VmiError(GuestErrors.INVALID_ARGUMENT, 'not a qcode name', { path: '/qcode' });
  return { type: 'key', data: { down, key: { type: 'qcode', data: qcode } } };
}

/** Sends raw input events in one `input-send-event` (QEMU delivers them in order). */
export async function inputSendEvent(client: QmpClient, events: readonly KeyInputEvent[], target: InputTarget = {}): Promise<void> {
  if (events.length === 0) return;
  await client.execute('input-send-event', {
    ...(target.device === undefined ? {} : { device: target.device }),
    ...(target.head === undefined ? {} : { head: target.head }),
    events,
  });
}

/** Presses a chord: every key down in order, then up in reverse order (e.g. `['shift', 'a']`). */
export async function sendKeys(client: QmpClient, qcodes: readonly string[], target: InputTarget = {}): Promise<void> {
  const down = qcodes.map((q) => keyEvent(q, true));
  const up = [...qcodes].reverse().map((q) => keyEvent(q, false));
  await inputSendEvent(client, [...down, ...up], target);
}

const UNSHIFTED: Record<string, string> = {
  ' ': 'spc',
  '\n': 'ret',
  '\t': 'tab',
  '-': 'minus',
  '=': 'equal',
  '[': 'bracket_left',
  ']': 'bracket_right',
  '\\': 'backslash',
  ';': 'semicolon',
  "'": 'apostrophe',
  '`': 'grave_accent',
  ',': 'comma',
  '.': 'dot',
  '/': 'slash',
};

const SHIFTED: Record<string, string> = {
  '!': '1',
  '@': '2',
  '#': '3',
  $: '4',
  '%': '5',
  '^': '6',
  '&': '7',
  '*': '8',
  '(': '9',
  ')': '0',
  _: 'minus',
  '+': 'equal',
  '{': 'bracket_left',
  '}': 'bracket_right',
  '|': 'backslash',
  ':': 'semicolon',
  '"': 'apostrophe',
  '~': 'grave_accent',
  '<': 'comma',
  '>': 'dot',
  '?': 'slash',
};

/** The chord that types one character on a US layout, or undefined when it has no key. */
export function qcodesForChar(char: string): string[] | undefined {
  if (/^[a-z0-9]$/.test(char)) return [char];
  if (/^[A-Z]$/.test(char)) return ['shift', char.toLowerCase()];
  const plain = UNSHIFTED[char];
  if (plain) return [plain];
  const shifted = SHIFTED[char];
  if (shifted) return ['shift', shifted];
  return undefined;
}

/** Types printable US-ASCII text (plus newline and tab), one chord per character. */
export async function typeText(client: QmpClient, text: string, target: InputTarget = {}): Promise<void> {
  const chords: string[][] = [];
  for (const [index, char] of [...text].entries()) {
    const chord = qcodesForChar(char);
    // The character itself stays out of the error: typed text may be secret.
    if (!chord) throw new VmiError(GuestErrors.INVALID_ARGUMENT, `character at index ${index} has no key on a US layout`);
    chords.push(chord);
  }
  for (const chord of chords) await sendKeys(client, chord, target);
}
