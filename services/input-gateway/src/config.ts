import Type from 'typebox';

/** The gateway's own settings (environment variables in UPPER_SNAKE_CASE), beside the base service config. */
export const InputGatewayConfig = Type.Object({
  /** The local key endpoint; loopback only (plaintext keys arrive there). */
  inputHttpHost: Type.String({ minLength: 1, default: '127.0.0.1' }),
  inputHttpPort: Type.Integer({ minimum: 0, maximum: 65_535, default: 7420 }),
  /** Guests attached at start, as `guest=/path/to/qmp.sock` pairs (more with the `attach` control operation). */
  inputGuests: Type.Array(Type.String({ pattern: '^[^=]+=.+$' }), { default: [] }),
  inputRetryBaseMs: Type.Integer({ minimum: 1, maximum: 60_000, default: 50 }),
  inputRetryMaxMs: Type.Integer({ minimum: 1, maximum: 600_000, default: 2_000 }),
  inputRequestTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 5_000 }),
  inputMaxPending: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 }),
});
