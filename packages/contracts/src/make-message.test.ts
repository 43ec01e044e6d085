import { describe, expect, it } from 'vitest';
import { idTime } from './ids.js';
import { makeMessage } from './make-message.js';
import { validators } from './registry.js';

describe('makeMessage', () => {
  it('fills id, time and version so the message validates', () => {
    const before = Date.now();
    const msg = makeMessage('scan-request', 'hv-01', 'web-1', { rules: [], reason: 'periodic', requested_by: 'scheduler' });
    expect(validators.scanRequest.parse(msg)).toBe(msg);
    expect(idTime(msg.id)).toBeGreaterThanOrEqual(before - 1);
    expect(Date.parse(msg.time)).toBeGreaterThanOrEqual(before - 1);
    const next = makeMessage('scan-request', 'hv-01', 'web-1', { rules: [], reason: 'periodic', requested_by: 'scheduler' });
    expect(next.id > msg.id).toBe(true);
  });
});
