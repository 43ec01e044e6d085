import { randomBytes } from 'node:crypto';
import { VmiError } from '@vmi/contracts';
import { describe, expect, it } from 'vitest';
import { decodeRsp, encodeRsp, parseStopReply } from './rsp-codec.js';

const RSP_CODES = new Set([
  'VMI_ERR_NATIVE_RSP_CHECKSUM',
  'VMI_ERR_NATIVE_RSP_RUN_LENGTH',
  'VMI_ERR_NATIVE_RSP_TOO_LONG',
  'VMI_ERR_NATIVE_RSP_STOP_REPLY',
]);

function checksum(body: string): string {
  let sum = 0;
  for (const ch of Buffer.from(body, 'latin1')) sum = (sum + ch) & 0xff;
  return sum.toString(16).padStart(2, '0');
}

function packet(body: string): string {
  return `$${body}#${checksum(body)}`;
}

/** A small deterministic generator so a failing seed can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('RSP packet codec', () => {
  it('round-trips any binary body through escaping, checksum and framing', () => {
    const next = rng(1);
    for (let i = 0; i < 500; i++) {
      const body = randomBytes(Math.floor(next() * 300));
      const wire = encodeRsp(body);
      const decoded = decodeRsp(wire, 1 << 20, 1 + Math.floor(next() * 7));
      expect(decoded.errors).toEqual([]);
      expect(decoded.frames).toHaveLength(1);
      expect(decoded.frames[0]?.unescaped?.equals(body)).toBe(true);
    }
  });

  it('expands run-length encoding and separates acks, nacks and packets', () => {
    const { frames, errors } = decodeRsp(Buffer.from(`+-${packet('0* ')}+${packet('ab*"x')}`, 'latin1'));
    expect(errors).toEqual([]);
    expect(frames.map((f) => f.kind)).toEqual(['ack', 'nack', 'packet', 'ack', 'packet']);
    expect(frames[2]?.payload.toString()).toBe('0000');
    expect(frames[4]?.payload.toString()).toBe('abbbbbbx');
  });

  it('reports a bad checksum with a typed error and decodes the next packet', () => {
    const { frames, errors } = decodeRsp(Buffer.from(`$OK#00${packet('S05')}`));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(VmiError);
    expect(errors[0]?.code).toBe('VMI_ERR_NATIVE_RSP_CHECKSUM');
    expect(frames.map((f) => f.payload.toString())).toEqual(['S05']);
  });

  it('rejects malformed run lengths and oversized packets', () => {
    const bad = decodeRsp(Buffer.from(packet('*!abc') + packet('a*#') + packet('a*\u0010')));
    expect(bad.frames).toEqual([]);
    expect(bad.errors.map((e) => e.code)).toEqual([
      'VMI_ERR_NATIVE_RSP_RUN_LENGTH',
      'VMI_ERR_NATIVE_RSP_CHECKSUM', // '#' ends the body early: the checksum digits are '#' and garbage
      'VMI_ERR_NATIVE_RSP_RUN_LENGTH',
    ]);
    const long = decodeRsp(Buffer.from(packet('x'.repeat(100))), 64);
    expect(long.errors.map((e) => e.code)).toEqual(['VMI_ERR_NATIVE_RSP_TOO_LONG']);
    const bomb = decodeRsp(Buffer.from(packet('x*~'.repeat(10))), 64);
    expect(bomb.errors.map((e) => e.code)).toEqual(['VMI_ERR_NATIVE_RSP_TOO_LONG']);
  });

  it('never crashes on random bytes and gives only typed errors', () => {
    const next = rng(7);
    const alphabet = Buffer.from('$#}*+-%0123456789abcdefT;:watch', 'latin1');
    for (let i = 0; i < 2000; i++) {
      const len = Math.floor(next() * 200);
      const buf = Buffer.alloc(len);
      for (let j = 0; j < len; j++) {
        buf[j] = next() < 0.7 ? (alphabet[Math.floor(next() * alphabet.length)] ?? 0) : Math.floor(next() * 256);
      }
      const whole = decodeRsp(buf, 128);
      for (const e of whole.errors) {
        expect(e).toBeInstanceOf(VmiError);
        expect(RSP_CODES.has(e.code)).toBe(true);
      }
      // Chunking must not change what is decoded: the decoder carries its state across reads.
      const chunked = decodeRsp(buf, 128, 1 + Math.floor(next() * 5));
      expect(chunked.frames.map((f) => [f.kind, f.payload.toString('hex')])).toEqual(
        whole.frames.map((f) => [f.kind, f.payload.toString('hex')]),
      );
      expect(chunked.errors.map((e) => e.code)).toEqual(whole.errors.map((e) => e.code));
    }
  });

  it('parses watch stop replies and refuses mutated ones with a typed error', () => {
    const stop = parseStopReply(Buffer.from('T05thread:01;watch:ffffffff82b48ecc;'));
    expect(stop).toEqual({ kind: 'signal', signal: 5, watchAddress: 0xffffffff82b48eccn, thread: 1 });
    expect(parseStopReply(Buffer.from('T02thread:p1.2;')).thread).toBe(2);
    expect(parseStopReply(Buffer.from('W00')).kind).toBe('exited');
    for (const bad of ['T5', 'Tzz', 'T05watch:;', 'T05watch:12345678901234567;', 'T05thread', 'T05:x;', 'Q05']) {
      expect(() => parseStopReply(Buffer.from(bad)), bad).toThrow(
        expect.objectContaining({ code: 'VMI_ERR_NATIVE_RSP_STOP_REPLY' }) as unknown as Error,
      );
    }
    const next = rng(11);
    const base = Buffer.from('T05thread:01;watch:ffffffff82b48ecc;');
    for (let i = 0; i < 2000; i++) {
      const m = Buffer.from(base);
      for (let k = 0; k < 1 + Math.floor(next() * 3); k++) m[Math.floor(next() * m.length)] = Math.floor(next() * 256);
      try {
        parseStopReply(m.subarray(0, Math.floor(next() * (m.length + 1))));
      } catch (error) {
        expect(error).toBeInstanceOf(VmiError);
        expect((error as VmiError).code).toBe('VMI_ERR_NATIVE_RSP_STOP_REPLY');
      }
    }
  });
});
