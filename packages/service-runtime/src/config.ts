import { hostname } from 'node:os';
import { CoreErrors, VmiError } from '@vmi/contracts';
import Type, { type Static, type TObject, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import Value from 'typebox/value';

/** `natsUrl` -> `NATS_URL`, `otelExporterOtlpEndpoint` -> `OTEL_EXPORTER_OTLP_ENDPOINT`. */
export function envName(property: string): string {
  return property
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1_$2')
    .toUpperCase();
}

export const LogLevel = Type.Union(
  [
    Type.Literal('trace'),
    Type.Literal('debug'),
    Type.Literal('info'),
    Type.Literal('warn'),
    Type.Literal('error'),
    Type.Literal('fatal'),
    Type.Literal('silent'),
  ],
  { default: 'info' },
);

/** What every service reads from its environment; a service spreads `.properties` into its own. */
export const BaseServiceConfig = Type.Object({
  natsUrl: Type.String({ minLength: 1, default: 'nats://127.0.0.1:4222', description: 'Comma-separated NATS server URLs' }),
  natsUser: Type.Optional(Type.String({ minLength: 1 })),
  natsPass: Type.Optional(Type.String({ minLength: 1 })),
  /** Path to a NATS credentials file (JWT + nkey seed). */
  natsCreds: Type.Optional(Type.String({ minLength: 1 })),
  subjectPrefix: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]*$', maxLength: 64, default: 'vmi' }),
  logLevel: LogLevel,
  /** 0 binds an ephemeral port (the bound port is logged). */
  healthPort: Type.Integer({ minimum: 0, maximum: 65_535, default: 0 }),
  healthHost: Type.String({ minLength: 1, default: '127.0.0.1' }),
  otelExporterOtlpEndpoint: Type.Optional(Type.String({ minLength: 1 })),
  /** Milliseconds between metric exports (the OpenTelemetry variable and default): each one wakes an idle service. */
  otelMetricExportInterval: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 60_000 }),
  hostName: Type.String({ minLength: 1, maxLength: 253, default: hostname() }),
  /** Nice value of every thread of the service (-20..19); unset: the service's own default. */
  serviceNice: Type.Optional(Type.Integer({ minimum: -20, maximum: 19 })),
});
export type BaseServiceConfig = Static<typeof BaseServiceConfig>;

/** Config variables whose value must never be echoed back in an error. */
const SECRET_NAME = /PASS|SECRET|TOKEN|KEY|CREDS/;

function isArraySchema(schema: TSchema): boolean {
  return (schema as { type?: unknown }).type === 'array';
}

/**
 * Reads the schema's properties from environment variables named in UPPER_SNAKE_CASE, converts
 * text to numbers, booleans and comma-separated lists as the schema asks, fills defaults and
 * validates. A missing or bad value throws `VMI_ERR_CONFIG` naming the variable.
 */
export function loadConfig<T extends TObject>(schema: T, env: NodeJS.ProcessEnv = process.env): Static<T> {
  const raw: Record<string, unknown> = {};
  for (const [key, propertySchema] of Object.entries(schema.properties as Record<string, TSchema>)) {
    const text = env[envName(key)];
    if (text === undefined || text === '') continue;
    raw[key] = isArraySchema(propertySchema)
      ? text
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0)
      : text;
  }
  const value = Value.Default(schema, Value.Convert(schema, raw));
  const validator = Compile(schema);
  if (validator.Check(value)) return value as Static<T>;
  const first = [...validator.Errors(value)][0];
  let property = first?.instancePath.split('/')[1];
  if (first?.keyword === 'required') {
    property = (first.params as { requiredProperties?: string[] }).requiredProperties?.[0] ?? property;
  }
  const variable = property === undefined ? 'environment' : envName(property);
  const given = property === undefined ? undefined : env[variable];
  const shown =
    given === undefined ? 'is missing' : SECRET_NAME.test(variable) ? 'is invalid' : `${JSON.stringify(given.slice(0, 200))} is invalid`;
  throw new VmiError(CoreErrors.CONFIG, `${variable} ${shown} (${first?.message ?? 'invalid'})`, {
    details: { variable },
  });
}
