import { setTimeout as sleep } from 'node:timers/promises';
import { InputErrors, type KeyEvent, VmiError } from '@vmi/contracts';
import { inputSendEvent, type KeyInputEvent, keyEvent, QmpClient } from '@vmi/qmp';

/** Where a guest's keys go: its virtual keyboard. */
export interface GuestKeyboard {
  send(events: readonly KeyEvent[]): Promise<void>;
  close(): Promise<void>;
}

export interface QmpKeyboardOptions {
  readonly connectTimeoutMs?: number;
  /** Events per `input-send-event`: QEMU's PS/2 keyboard buffers only 16 scancode bytes. */
  readonly eventsPerSend?: number;
  /** Pause between back-to-back sends, so the guest can drain the keyboard buffer. */
  readonly paceMs?: number;
  /** Batches waiting for the keyboard before more are refused (a flood, not a typist). */
  readonly maxQueued?: number;
}

interface Pending {
  readonly events: KeyInputEvent[];
  sent: number;
  readonly resolve: () => void;
  readonly reject: (error: VmiError) => void;
}

/**
 * A guest's keyboard through a QMP monitor socket of the gateway's own (`input-send-event`).
 * Keys reach the guest in the order they were given. Batches waiting together share one command
 * (up to `eventsPerSend` events), and commands are at least `paceMs` apart: QEMU drops scancodes that
 * overflow the emulated keyboard's small buffer instead of holding them. A person typing never
 * waits on either.
 */
export class QmpKeyboard implements GuestKeyboard {
  readonly #client: QmpClient;
  readonly #eventsPerSend: number;
  readonly #paceMs: number;
  readonly #queue: Pending[] = [];
  readonly #maxQueued: number;
  #pumping = false;
  #lastSentAt = Number.NEGATIVE_INFINITY;

  private constructor(client: QmpClient, options: QmpKeyboardOptions) {
    this.#client = client;
    this.#eventsPerSend = options.eventsPerSend ?? 6;
    this.#paceMs = options.paceMs ?? 5;
    this.#maxQueued = options.maxQueued ?? 10_000;
  }

  static async connect(socketPath: string, options: QmpKeyboardOptions = {}): Promise<QmpKeyboard> {
    try {
      return new QmpKeyboard(await QmpClient.connect(socketPath, { connectTimeoutMs: options.connectTimeoutMs ?? 10_000 }), options);
    } catch (cause) {
      throw new VmiError(InputErrors.GUEST_KEYBOARD, 'QMP monitor unreachable', { cause });
    }
  }

  send(events: readonly KeyEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    if (this.#queue.length >= this.#maxQueued) {
      return Promise.reject(new VmiError(InputErrors.GUEST_KEYBOARD, 'keyboard queue full', { details: { queued: this.#queue.length } }));
    }
    const qmpEvents = events.map((e) => keyEvent(e.qcode, e.down));
    return new Promise((resolve, reject) => {
      this.#queue.push({ events: qmpEvents, sent: 0, resolve, reject });
      void this.#pump();
    });
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#queue.length > 0) {
        const wait = this.#lastSentAt + this.#paceMs - performance.now();
        if (wait > 0) await sleep(wait);
        const { command, finished } = this.#nextCommand();
        try {
          await inputSendEvent(this.#client, command);
          this.#lastSentAt = performance.now();
          for (const done of finished) done.resolve();
        } catch (cause) {
          // The batches in this command fail, and so does one cut in half; later ones still get their try.
          const error = new VmiError(InputErrors.GUEST_KEYBOARD, undefined, { cause });
          for (const done of finished) done.reject(error);
          const head = this.#queue[0];
          if (head !== undefined && head.sent > 0) {
            this.#queue.shift();
            head.reject(error);
          }
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Takes up to `eventsPerSend` events from the head of the queue; returns the batches it completes. */
  #nextCommand(): { command: KeyInputEvent[]; finished: Pending[] } {
    const command: KeyInputEvent[] = [];
    const finished: Pending[] = [];
    while (this.#queue.length > 0 && command.length < this.#eventsPerSend) {
      const head = this.#queue[0] as Pending;
      const take = Math.min(this.#eventsPerSend - command.length, head.events.length - head.sent);
      command.push(...head.events.slice(head.sent, head.sent + take));
      head.sent += take;
      if (head.sent < head.events.length) break;
      this.#queue.shift();
      finished.push(head);
    }
    return { command, finished };
  }

  /** Closes the monitor connection. Keys still queued are dropped: the guest is going away. */
  close(): Promise<void> {
    for (const pending of this.#queue.splice(0)) pending.resolve();
    return this.#client.close();
  }
}
