import { isVmiError } from '@vmi/contracts';
import Type from 'typebox';
import { describe, expect, it } from 'vitest';
import { BaseServiceConfig, envName, loadConfig } from './config.js';

const Schema = Type.Object({
  ...BaseServiceConfig.properties,
  batchSize: Type.Integer({ minimum: 1, default: 100 }),
  enforce: Type.Boolean({ default: false }),
  allowedGuests: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
  databaseUrl: Type.String({ minLength: 1 }),
});

function configError(fn: () => unknown): { code: string; message: string; variable: unknown } {
  try {
    fn();
  } catch (err) {
    if (isVmiError(err)) return { code: err.code, message: err.message, variable: err.details?.variable };
    throw err;
  }
  throw new Error('expected a configuration error');
}

describe('configuration from the environment', () => {
  it('names variables in UPPER_SNAKE_CASE after the schema properties', () => {
    expect(envName('natsUrl')).toBe('NATS_URL');
    expect(envName('otelExporterOtlpEndpoint')).toBe('OTEL_EXPORTER_OTLP_ENDPOINT');
    expect(envName('healthPort')).toBe('HEALTH_PORT');
  });

  it('converts numbers, booleans and lists, and fills defaults', () => {
    const config = loadConfig(Schema, {
      DATABASE_URL: 'postgres://db/test',
      BATCH_SIZE: '250',
      ENFORCE: 'true',
      ALLOWED_GUESTS: 'web-1, db-2 ,',
      HEALTH_PORT: '8081',
    });
    expect(config).toMatchObject({
      databaseUrl: 'postgres://db/test',
      batchSize: 250,
      enforce: true,
      allowedGuests: ['web-1', 'db-2'],
      healthPort: 8081,
      natsUrl: 'nats://127.0.0.1:4222',
      subjectPrefix: 'vmi',
      logLevel: 'info',
    });
    expect(config.hostName.length).toBeGreaterThan(0);
    expect(config.natsPass).toBeUndefined();
  });

  it('names a missing variable', () => {
    const e = configError(() => loadConfig(Schema, {}));
    expect(e.code).toBe('VMI_ERR_CONFIG');
    expect(e.variable).toBe('DATABASE_URL');
    expect(e.message).toContain('DATABASE_URL is missing');
  });

  it('names a variable with a bad value and shows the value', () => {
    const e = configError(() => loadConfig(Schema, { DATABASE_URL: 'x', BATCH_SIZE: 'many' }));
    expect(e.code).toBe('VMI_ERR_CONFIG');
    expect(e.variable).toBe('BATCH_SIZE');
    expect(e.message).toContain('BATCH_SIZE "many" is invalid');
  });

  it('refuses a bad subject prefix and an out-of-range port', () => {
    expect(configError(() => loadConfig(Schema, { DATABASE_URL: 'x', SUBJECT_PREFIX: 'vmi.>' })).variable).toBe('SUBJECT_PREFIX');
    expect(configError(() => loadConfig(Schema, { DATABASE_URL: 'x', HEALTH_PORT: '70000' })).variable).toBe('HEALTH_PORT');
    expect(configError(() => loadConfig(Schema, { DATABASE_URL: 'x', LOG_LEVEL: 'loud' })).variable).toBe('LOG_LEVEL');
  });

  it('never echoes a secret value in the error', () => {
    const Secret = Type.Object({ natsPass: Type.String({ minLength: 12 }) });
    const e = configError(() => loadConfig(Secret, { NATS_PASS: 'hunter2' }));
    expect(e.variable).toBe('NATS_PASS');
    expect(e.message).not.toContain('hunter2');
  });
});
