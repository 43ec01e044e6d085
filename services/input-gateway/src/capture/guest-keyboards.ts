import { InputErrors, VmiError } from '@vmi/contracts';
import type { GuestKeyboard } from './guest-keyboard.js';

/** The keyboards of the guests the gateway serves, by guest name. */
export class GuestKeyboards {
  readonly #keyboards = new Map<string, GuestKeyboard>();

  add(guest: string, keyboard: GuestKeyboard): GuestKeyboard | undefined {
    const previous = this.#keyboards.get(guest);
    this.#keyboards.set(guest, keyboard);
    return previous;
  }

  /** Throws `VMI_ERR_INPUT_UNKNOWN_GUEST` for a guest that was never attached. */
  get(guest: string): GuestKeyboard {
    const keyboard = this.#keyboards.get(guest);
    if (!keyboard) throw new VmiError(InputErrors.UNKNOWN_GUEST, undefined, { path: '/guest' });
    return keyboard;
  }

  has(guest: string): boolean {
    return this.#keyboards.has(guest);
  }

  remove(guest: string): GuestKeyboard | undefined {
    const keyboard = this.#keyboards.get(guest);
    this.#keyboards.delete(guest);
    return keyboard;
  }

  guests(): string[] {
    return [...this.#keyboards.keys()];
  }
}
