import type { KeyEvent, KeyInputReply, KeyInputRequest } from '@vmi/contracts';
import { assertKnownKeys, textToKeys } from '@vmi/secure-input-server';
import type { ConnectionRegistry } from '../connections/registry.js';
import type { GuestKeyboards } from './guest-keyboards.js';
import { placeholdersFor } from './placeholders.js';

/**
 * Where a guest's keys go. No focused connection: to the guest, unchanged. A focused, live
 * connection: sealed to its server, and placeholders to the guest. A focused connection that
 * ended: nowhere; the caller gets the connection's `closed`/`expired` error, so a secret typed a
 * moment too late never reaches the guest in clear.
 */
export class InputRouter {
  readonly #keyboards: GuestKeyboards;
  readonly #registry: ConnectionRegistry;
  readonly #onPlaceholderFailure: (guest: string, error: unknown) => void;

  constructor(keyboards: GuestKeyboards, registry: ConnectionRegistry, onPlaceholderFailure: (guest: string, error: unknown) => void) {
    this.#keyboards = keyboards;
    this.#registry = registry;
    this.#onPlaceholderFailure = onPlaceholderFailure;
  }

  async route(guest: string, request: KeyInputRequest, receivedAt: number): Promise<KeyInputReply> {
    const events: KeyEvent[] = 'keys' in request ? request.keys : textToKeys(request.text);
    assertKnownKeys(events);
    const keyboard = this.#keyboards.get(guest);
    const connection = this.#registry.focused(guest);
    if (connection === null) {
      await keyboard.send(events);
      return { guest, route: 'guest', connection_id: null, seq: null, keys: events.length };
    }
    // Sealed and queued first: delivery starts before the guest's placeholders go out, and a refused
    // record (closed, expired, queue full) sends no placeholders either. The reply does not wait
    // for the placeholders: they are queued in order behind any earlier keys of this guest.
    const seq = connection.submit(events, receivedAt);
    keyboard.send(placeholdersFor(events)).catch((error: unknown) => this.#onPlaceholderFailure(guest, error));
    return { guest, route: 'secure', connection_id: connection.id, seq, keys: events.length };
  }
}
