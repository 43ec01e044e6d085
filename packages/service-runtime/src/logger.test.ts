import { describe, expect, it } from 'vitest';
import { captureLogger } from './test-support.js';

describe('structured logs', () => {
  it('are JSON with the service name, and never carry secrets', () => {
    const { logger, lines } = captureLogger('input-gateway');
    logger.info({ plaintext: 'hunter2', session: { key: 'c2VjcmV0', id: 's1' }, request: { body: { password: 'pw' } } }, 'typed');
    const line = lines[0];
    expect(line).toMatchObject({ service: 'input-gateway', level: 'info', msg: 'typed' });
    expect(JSON.stringify(line)).not.toMatch(/hunter2|c2VjcmV0|"pw"/);
    expect(line?.plaintext).toBe('[redacted]');
    expect(line?.session).toEqual({ key: '[redacted]', id: 's1' });
    expect(line?.trace_id).toBeUndefined();
  });
});
