import type { AddressInfo } from 'node:net';
import { InputErrors, isVmiError, type KeyEvent, type SecureInputAck, SecureInputBatch, VmiError } from '@vmi/contracts';
import Fastify, { type FastifyInstance } from 'fastify';
import { contractsValidatorCompiler } from './fastify-validation.js';
import { keysToText } from './keymap.js';
import { type DeliveredRecord, type ReceiverOptions, SecureInputReceiver } from './receiver.js';
import { exportPublicKey, generateKeyPair, type HpkeKeyPair } from './suite.js';

export const RECORDS_PATH = '/v1/secure-input/records';
export const PING_PATH = '/v1/ping';

export interface ReferenceServerOptions extends Omit<ReceiverOptions, 'serverKeyPair'> {
  /** TLS key and certificate (PEM). */
  readonly tls: { readonly key: string; readonly cert: string };
  /** Generated when absent. */
  readonly serverKeyPair?: HpkeKeyPair;
  readonly host?: string;
  /** 0 picks a free port (kept across stop and listen). */
  readonly port?: number;
  /** The application's handler: called once per record, in order. */
  readonly onInput?: (record: DeliveredRecord) => void;
}

interface Typed {
  text: string;
  keys: KeyEvent[];
  readonly shift: { shift: number };
}

/**
 * A reference application server: HTTPS, one record route built on {@link SecureInputReceiver}, and
 * a bare ping route (the TLS floor that benchmarks compare against). It keeps what each connection
 * typed, for tests and the demo; a real application would consume it instead. Stopping and
 * listening again keeps the receiver's state, as a restarted server with durable state would.
 */
export class ReferenceServer {
  readonly receiver: SecureInputReceiver;
  readonly publicKey: string;
  readonly #options: ReferenceServerOptions;
  readonly #typed = new Map<string, Typed>();
  readonly #host: string;
  #port: number;
  #app: FastifyInstance | null = null;

  private constructor(options: ReferenceServerOptions, receiver: SecureInputReceiver, publicKey: string) {
    this.#options = options;
    this.receiver = receiver;
    this.publicKey = publicKey;
    this.#host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? 0;
  }

  static async create(options: ReferenceServerOptions): Promise<ReferenceServer> {
    const serverKeyPair = options.serverKeyPair ?? (await generateKeyPair());
    const receiver = new SecureInputReceiver({ ...options, serverKeyPair });
    return new ReferenceServer(options, receiver, await exportPublicKey(serverKeyPair.publicKey));
  }

  #build(): FastifyInstance {
    const app = Fastify({ https: { key: this.#options.tls.key, cert: this.#options.tls.cert }, logger: false, keepAliveTimeout: 60_000 });
    app.setValidatorCompiler(contractsValidatorCompiler);
    app.setErrorHandler((error, _request, reply) => {
      const vmi = isVmiError(error) ? error : new VmiError(InputErrors.RECORD_MALFORMED);
      void reply.status(vmi.status).send({ error: vmi.toJSON() });
    });
    app.get(PING_PATH, async (_request, reply) => reply.status(204).send());
    app.post(RECORDS_PATH, { schema: { body: SecureInputBatch } }, async (request, reply) => {
      const result = await this.receiver.accept(request.body);
      for (const record of result.delivered) {
        this.#remember(record);
        this.#options.onInput?.(record);
      }
      if (result.error) {
        return reply
          .status(result.error.status)
          .send({ error: { ...result.error.toJSON(), details: { acked_seq: result.ack.acked_seq } } });
      }
      const ack: SecureInputAck = result.ack;
      return ack;
    });
    return app;
  }

  #remember(record: DeliveredRecord): void {
    let typed = this.#typed.get(record.connectionId);
    if (!typed) {
      typed = { text: '', keys: [], shift: { shift: 0 } };
      this.#typed.set(record.connectionId, typed);
    }
    typed.keys.push(...record.keys);
    typed.text += keysToText(record.keys, typed.shift);
  }

  async listen(): Promise<string> {
    if (this.#app) return this.origin;
    const app = this.#build();
    await app.listen({ host: this.#host, port: this.#port });
    this.#port = (app.server.address() as AddressInfo).port;
    this.#app = app;
    return this.origin;
  }

  get origin(): string {
    return `https://${this.#host.includes(':') ? `[${this.#host}]` : this.#host}:${this.#port}`;
  }

  get recordsUrl(): string {
    return `${this.origin}${RECORDS_PATH}`;
  }

  /** Text typed into a connection so far, folded from its key events. */
  textOf(connectionId: string): string {
    return this.#typed.get(connectionId)?.text ?? '';
  }

  keysOf(connectionId: string): readonly KeyEvent[] {
    return this.#typed.get(connectionId)?.keys ?? [];
  }

  /** Stops listening and drops open connections, as a crash would; `listen()` reopens the same port. */
  async stop(): Promise<void> {
    const app = this.#app;
    this.#app = null;
    if (!app) return;
    app.server.closeAllConnections();
    await app.close();
  }
}
