import { type CloseReason, type ConnectionInfo, InputErrors, type InputOpenRequest, newId, VmiError } from '@vmi/contracts';
import { RecordSealer, resolveSuite } from '@vmi/secure-input-server';
import type { GatewayIdentity } from '../crypto/identity.js';
import type { InputEvents } from '../events/input-events.js';
import { type ConnectionSettings, SecureConnection } from './connection.js';
import { parseEndpoint, parsePinnedCa } from './open-request.js';

const ENDED_KEPT = 1000;

/**
 * The live security connections, and which one (if any) has each guest's keyboard focus. Ended
 * connections are remembered for a while, so input aimed at one gets "closed" or "expired" rather
 * than "unknown".
 */
export class ConnectionRegistry {
  readonly #connections = new Map<string, SecureConnection>();
  readonly #ended = new Map<string, SecureConnection>();
  readonly #focus = new Map<string, string>();
  readonly #identity: GatewayIdentity;
  readonly #settings: ConnectionSettings;
  readonly #events: InputEvents;

  constructor(identity: GatewayIdentity, settings: ConnectionSettings, events: InputEvents) {
    this.#identity = identity;
    this.#settings = settings;
    this.#events = events;
  }

  /**
   * Opens a connection. What the request says is checked first (suite, endpoint, CA, key), then
   * `assertGuest` (is the guest attached?), so each mistake gets its own code whatever else is wrong.
   */
  async open(request: InputOpenRequest, assertGuest: (guest: string) => void): Promise<SecureConnection> {
    resolveSuite(request.suite);
    const endpoint = parseEndpoint(request.endpoint);
    const caPem = parsePinnedCa(request.tls_ca_pem);
    const id = newId();
    const sealer = await RecordSealer.create({
      suite: request.suite,
      serverPublicKey: request.server_public_key,
      senderKey: this.#identity.keyPair,
      connectionId: id,
      application: request.application,
    });
    try {
      assertGuest(request.guest);
    } catch (err) {
      sealer.destroy();
      throw err;
    }
    const connection = new SecureConnection(
      {
        id,
        guest: request.guest,
        application: request.application,
        endpoint,
        caPem,
        suite: { kem: request.suite.kem, kdf: request.suite.kdf, aead: request.suite.aead },
        ttlMs: request.ttl_s * 1000,
        sealer,
        gatewayKeyId: this.#identity.keyId,
      },
      this.#settings,
      this.#events,
      (expired) => void this.end(expired.id, 'expired'),
    );
    this.#connections.set(id, connection);
    if (request.focus === true) this.#focus.set(request.guest, id);
    return connection;
  }

  /** A live or recently ended connection; throws `VMI_ERR_INPUT_UNKNOWN_CONNECTION`. */
  get(id: string): SecureConnection {
    const connection = this.#connections.get(id) ?? this.#ended.get(id);
    if (!connection) throw new VmiError(InputErrors.UNKNOWN_CONNECTION, undefined, { path: '/connection_id' });
    return connection;
  }

  /**
   * Ends a connection: input is refused from now on, while records already sealed may still be
   * delivered (see `SecureConnection.end`). Its guest's focus stays on it, so keys typed after the
   * end are refused instead of reaching the guest in clear; `focus(guest, null)` hands the
   * keyboard back. Returns at once; `finished` settles when delivery is over.
   */
  end(id: string, reason: CloseReason): { connection: SecureConnection; finished: Promise<void> } {
    const connection = this.get(id);
    if (this.#connections.delete(id)) {
      this.#ended.set(id, connection);
      if (this.#ended.size > ENDED_KEPT) {
        const oldest = this.#ended.keys().next().value;
        if (oldest !== undefined) this.#ended.delete(oldest);
      }
    }
    return { connection, finished: connection.end(reason) };
  }

  focus(guest: string, id: string | null): void {
    if (id === null) {
      this.#focus.delete(guest);
      return;
    }
    const connection = this.get(id);
    if (connection.guest !== guest) {
      throw new VmiError(InputErrors.UNKNOWN_CONNECTION, 'connection belongs to another guest', { path: '/connection_id' });
    }
    connection.assertOpen();
    this.#focus.set(guest, id);
  }

  /** The connection that has the guest's focus, or null when its keys go to the guest. */
  focused(guest: string): SecureConnection | null {
    const id = this.#focus.get(guest);
    return id === undefined ? null : (this.#connections.get(id) ?? this.#ended.get(id) ?? null);
  }

  live(guest?: string): SecureConnection[] {
    return [...this.#connections.values()].filter((c) => guest === undefined || c.guest === guest);
  }

  info(connection: SecureConnection): ConnectionInfo {
    return connection.info(this.#focus.get(connection.guest) === connection.id);
  }

  /**
   * Ends every live connection (of one guest, or all); used on detach and shutdown. Resolves when
   * their delivery is over.
   */
  endAll(reason: CloseReason, guest?: string): Promise<void> {
    const finished = this.live(guest).map((c) => this.end(c.id, reason).finished);
    if (guest !== undefined) this.#focus.delete(guest);
    return Promise.all(finished).then(() => undefined);
  }
}
