import { InputErrors, type KeyEvent, VmiError } from '@vmi/contracts';
import { inputSendEvent, keyEvent, QmpClient } from '@vmi/qmp';

/** Where a guest's keys go: its virtual keyboard. */
export interface GuestKeyboard {
  send(events: readonly KeyEvent[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * A guest's keyboard through a QMP monitor socket of the gateway's own (`input-send-event`).
 * Sends are queued so keys reach the guest in the order they were given, whatever QMP's latency.
 */
export class QmpKeyboard implements GuestKeyboard {
  readonly #client: QmpClient;
  #chain: Promise<unknown> = Promise.resolve();

  private constructor(client: QmpClient) {
    this.#client = client;
  }

  static async connect(socketPath: string, connectTimeoutMs = 10_000): Promise<QmpKeyboard> {
    try {
      return new QmpKeyboard(await QmpClient.connect(socketPath, { connectTimeoutMs }));
    } catch (cause) {
      throw new VmiError(InputErrors.GUEST_KEYBOARD, 'QMP monitor unreachable', { cause });
    }
  }

  send(events: readonly KeyEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    const qmpEvents = events.map((e) => keyEvent(e.qcode, e.down));
    const sent = this.#chain.then(async () => {
      try {
        await inputSendEvent(this.#client, qmpEvents);
      } catch (cause) {
        throw new VmiError(InputErrors.GUEST_KEYBOARD, undefined, { cause });
      }
    });
    this.#chain = sent.catch(() => undefined);
    return sent;
  }

  close(): Promise<void> {
    return this.#client.close();
  }
}
