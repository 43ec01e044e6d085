import { describe, expect, it } from 'vitest';
import { natsTarget, withCredentials } from './nats-relay.js';

// Components never hold NATS credentials: the relay adds the service's own to the CONNECT line.
describe('NATS relay credentials', () => {
  const target = natsTarget('nats://127.0.0.1:4222', { user: 'isolation', pass: 's3cret' });

  it('adds the service credentials to the CONNECT line and keeps what follows', () => {
    const out = withCredentials(Buffer.from('CONNECT {"name":"log-shipper","verbose":false}\r\nPING\r\n'), target);
    expect(out).not.toBeNull();
    const line = out?.line.toString() ?? '';
    expect(line.endsWith('\r\n')).toBe(true);
    expect(JSON.parse(line.slice('CONNECT '.length))).toEqual({ name: 'log-shipper', verbose: false, user: 'isolation', pass: 's3cret' });
    expect(out?.rest.toString()).toBe('PING\r\n');
  });

  it('replaces credentials a component tries to bring', () => {
    const out = withCredentials(Buffer.from('CONNECT {"user":"admin","pass":"guess","auth_token":"t"}\r\n'), target);
    expect(JSON.parse(out?.line.toString().slice(8) ?? '{}')).toEqual({ user: 'isolation', pass: 's3cret' });
  });

  it('waits for a whole line, and refuses anything but CONNECT first', () => {
    expect(withCredentials(Buffer.from('CONNECT {"na'), target)).toBeNull();
    expect(() => withCredentials(Buffer.from('PUB vmi.trap.x.y 1\r\nx\r\n'), target)).toThrow(/not CONNECT/);
    expect(() => withCredentials(Buffer.alloc(20_000, 0x41), target)).toThrow(/too long/);
  });
});
