import type { KeyEvent } from '@vmi/contracts';
import { MODIFIERS, PLACEHOLDER_QCODE } from '@vmi/secure-input-server';

/**
 * What the guest gets instead of a secure key: one placeholder press per key, modifiers dropped.
 * The guest application can still count characters (to draw dots); it learns neither which keys
 * nor whether shift was held.
 */
export function placeholdersFor(events: readonly KeyEvent[]): KeyEvent[] {
  return events.filter((e) => !MODIFIERS.has(e.qcode)).map((e) => ({ qcode: PLACEHOLDER_QCODE, down: e.down }));
}
