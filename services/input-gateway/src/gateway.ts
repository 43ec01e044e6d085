import type { Subjects } from '@vmi/contracts';
import {
  type CloseReason,
  type ConnectionInfo,
  compileValidator,
  InputAttachRequest,
  InputCloseRequest,
  InputDetachRequest,
  InputFocusRequest,
  type InputIdentityReply,
  InputOpenRequest,
  type InputStatusReply,
  InputStatusRequest,
  isVmiError,
  type KeyInputReply,
  KeyInputRequest,
  Name,
} from '@vmi/contracts';
import type { JetStreamClient, Logger } from '@vmi/service-runtime';
import type { Static } from 'typebox';
import { type GuestKeyboard, QmpKeyboard } from './capture/guest-keyboard.js';
import { GuestKeyboards } from './capture/guest-keyboards.js';
import { InputRouter } from './capture/input-router.js';
import type { ConnectionSettings } from './connections/connection.js';
import { ConnectionRegistry } from './connections/registry.js';
import { createGatewayIdentity, type GatewayIdentity } from './crypto/identity.js';
import { InputEvents } from './events/input-events.js';

type InputGuestStatus = Static<typeof InputStatusReply>['guests'][number];

export const DEFAULT_SETTINGS: ConnectionSettings = {
  backoff: { baseMs: 50, maxMs: 2_000 },
  requestTimeoutMs: 5_000,
  maxBatch: 256,
  maxPending: 10_000,
  forwardedEventMs: 500,
  failedEventEvery: 10,
  shutdownGraceMs: 2_000,
};

export interface InputGatewayOptions {
  readonly js: JetStreamClient;
  readonly subjects: Subjects;
  readonly host: string;
  readonly logger: Logger;
  readonly identity?: GatewayIdentity;
  readonly settings?: Partial<ConnectionSettings>;
  /** How a guest's keyboard is reached from its `qmp_socket` (QMP `input-send-event` by default). */
  readonly connectKeyboard?: (qmpSocket: string) => Promise<GuestKeyboard>;
}

const validate = {
  open: compileValidator(InputOpenRequest, 'input-open-request'),
  close: compileValidator(InputCloseRequest, 'input-close-request'),
  focus: compileValidator(InputFocusRequest, 'input-focus-request'),
  status: compileValidator(InputStatusRequest, 'input-status-request'),
  attach: compileValidator(InputAttachRequest, 'input-attach-request'),
  detach: compileValidator(InputDetachRequest, 'input-detach-request'),
  keys: compileValidator(KeyInputRequest, 'key-input-request'),
  guest: compileValidator(Name, 'guest'),
};

/**
 * The input gateway's operations, as functions. The NATS control service and the local key
 * endpoint are thin adapters over these; every request is validated here, whoever calls.
 */
export class InputGateway {
  readonly #identity: GatewayIdentity;
  readonly #keyboards = new GuestKeyboards();
  readonly #registry: ConnectionRegistry;
  readonly #router: InputRouter;
  readonly #events: InputEvents;
  readonly #logger: Logger;
  readonly #connectKeyboard: (qmpSocket: string) => Promise<GuestKeyboard>;
  readonly #placeholderFailures = new Map<string, { count: number; loggedAt: number }>();

  private constructor(options: InputGatewayOptions, identity: GatewayIdentity) {
    this.#identity = identity;
    this.#logger = options.logger;
    this.#events = new InputEvents({ js: options.js, subjects: options.subjects, host: options.host, logger: options.logger });
    this.#registry = new ConnectionRegistry(identity, { ...DEFAULT_SETTINGS, ...options.settings }, this.#events);
    this.#router = new InputRouter(this.#keyboards, this.#registry, (guest, error) => this.#placeholderFailed(guest, error));
    this.#connectKeyboard = options.connectKeyboard ?? ((socket) => QmpKeyboard.connect(socket));
  }

  static async create(options: InputGatewayOptions): Promise<InputGateway> {
    return new InputGateway(options, options.identity ?? (await createGatewayIdentity()));
  }

  /** The gateway's public key, for servers to pin. */
  identity(): InputIdentityReply {
    return { key_id: this.#identity.keyId, public_key: this.#identity.publicKey, kem: this.#identity.kem };
  }

  async attach(body: unknown): Promise<InputGuestStatus> {
    const request = validate.attach.parse(body);
    const keyboard = await this.#connectKeyboard(request.qmp_socket);
    const previous = this.#keyboards.add(request.guest, keyboard);
    await previous?.close();
    this.#logger.info({ guest: request.guest }, 'guest keyboard attached');
    return this.#guestStatus(request.guest);
  }

  async detach(body: unknown): Promise<InputGuestStatus> {
    const request = validate.detach.parse(body);
    const status = this.#guestStatus(request.guest);
    // Records already sealed for the guest's connections are still delivered; the reply does not wait.
    void this.#registry.endAll('guest-detached', request.guest);
    const keyboard = this.#keyboards.remove(request.guest);
    await keyboard?.close();
    return { ...status, focused: null, refusing: false };
  }

  async open(body: unknown): Promise<ConnectionInfo> {
    const request = validate.open.parse(body);
    const connection = await this.#registry.open(request, (guest) => this.#keyboards.get(guest));
    this.#logger.info(
      { guest: request.guest, connection_id: connection.id, application: request.application },
      'security connection opened',
    );
    return this.#registry.info(connection);
  }

  async close(body: unknown, reason: Static<typeof CloseReason> = 'requested'): Promise<ConnectionInfo> {
    const request = validate.close.parse(body);
    const { connection } = this.#registry.end(request.connection_id, reason);
    this.#logger.info({ guest: connection.guest, connection_id: connection.id, reason }, 'security connection closed');
    return this.#registry.info(connection);
  }

  focus(body: unknown): InputGuestStatus {
    const request = validate.focus.parse(body);
    this.#keyboards.get(request.guest);
    this.#registry.focus(request.guest, request.connection_id);
    return this.#guestStatus(request.guest);
  }

  status(body: unknown = {}): Static<typeof InputStatusReply> {
    const request = validate.status.parse(body);
    const guests = request.guest === undefined ? this.#keyboards.guests() : [request.guest];
    if (request.guest !== undefined) this.#keyboards.get(request.guest);
    return {
      guests: guests.map((g) => this.#guestStatus(g)),
      connections: this.#registry.live(request.guest).map((c) => this.#registry.info(c)),
    };
  }

  /** The local key endpoint's operation: route one batch of a guest's key events. */
  async input(guest: string, body: unknown, receivedAt: number = performance.now()): Promise<Static<typeof KeyInputReply>> {
    validate.guest.parse(guest);
    return this.#router.route(guest, validate.keys.parse(body), receivedAt);
  }

  /** Resolves once every record of the connection sealed so far was acknowledged by its server. */
  async delivered(connectionId: string): Promise<void> {
    await this.#registry.get(connectionId).delivered();
  }

  /** A bare GET to the connection's server over its kept-alive TLS connection (benchmarks' floor). */
  ping(connectionId: string, path: string): Promise<number> {
    return this.#registry.get(connectionId).ping(path);
  }

  /** Every event emitted so far was published (or given up on). */
  eventsFlushed(): Promise<void> {
    return this.#events.flushed();
  }

  /**
   * Ends every connection (reason `shutdown`: sealed records get `shutdownGraceMs` to be
   * delivered), lets the events out, and closes the keyboards.
   */
  async stop(): Promise<void> {
    await this.#registry.endAll('shutdown');
    await this.#events.flushed();
    for (const guest of this.#keyboards.guests()) await this.#keyboards.remove(guest)?.close();
  }

  /**
   * Logs failed placeholder sends at most once a second per guest, with how many failed since: a
   * flood must not turn into a log flood. Only the code: the error's text is not ours to log.
   */
  #placeholderFailed(guest: string, error: unknown): void {
    const now = Date.now();
    const seen = this.#placeholderFailures.get(guest) ?? { count: 0, loggedAt: 0 };
    seen.count++;
    this.#placeholderFailures.set(guest, seen);
    if (now - seen.loggedAt < 1000) return;
    this.#logger.warn(
      { guest, code: isVmiError(error) ? error.code : 'unknown', failed: seen.count },
      'placeholder keys not delivered to guest',
    );
    seen.count = 0;
    seen.loggedAt = now;
  }

  #guestStatus(guest: string): InputGuestStatus {
    const focused = this.#registry.focused(guest);
    return { guest, focused: focused?.id ?? null, refusing: focused !== null && focused.state !== 'active' };
  }
}
