import { describe, expect, it } from 'vitest';
import { checkRegion } from './checks.js';
import type { TextRange } from './pointer-checks.js';

const text: TextRange[] = [
  { start: 0xffffffff81000000n, end: 0xffffffff82000000n, module: null },
  { start: 0xffffffffc0000000n, end: 0xffffffffc0002000n, module: 'known' },
];

function le64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
}

/** An x86-64 interrupt gate pointing at `target`. */
function gate(target: bigint): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(Number(target & 0xffffn), 0);
  b.writeUInt16LE(0x10, 2);
  b[5] = 0x8e;
  b.writeUInt16LE(Number((target >> 16n) & 0xffffn), 6);
  b.writeUInt32LE(Number((target >> 32n) & 0xffffffffn), 8);
  return b;
}

const rec = (
  check: 'syscall-entry' | 'idt-gate' | 'text' | 'string' | 'hash',
  extra: Partial<{ allow_values: string[]; allow_writers: string[] }> = {},
) => ({
  object: `obj-${check}`,
  check,
  allow_values: extra.allow_values ?? [],
  allow_writers: extra.allow_writers ?? [],
});

describe('checks on changed protected objects', () => {
  const ctx = { text, writerSymbol: null };

  it('finds a syscall entry pointing outside kernel and module text, and one redirected inside it', () => {
    const base = le64(0xffffffff81001000n);
    expect(checkRegion(rec('syscall-entry'), base, base, ctx)).toMatchObject({ malicious: false, check: 'unchanged' });
    expect(checkRegion(rec('syscall-entry'), base, le64(0xffffffffc1000000n), ctx)).toMatchObject({
      malicious: true,
      check: 'pointer-outside-text',
    });
    expect(checkRegion(rec('syscall-entry'), base, le64(0xffffffffc0000100n), ctx)).toMatchObject({ malicious: true, check: 'hash' });
  });

  it('decodes IDT gates (offset split over three fields)', () => {
    const base = gate(0xffffffff81a00000n);
    expect(checkRegion(rec('idt-gate'), base, gate(0xffffffffa0123456n), ctx)).toMatchObject({
      malicious: true,
      check: 'pointer-outside-text',
    });
    const r = checkRegion(rec('idt-gate'), base, gate(0xffffffff81a00010n), ctx);
    expect(r).toMatchObject({ malicious: true, check: 'hash' });
    expect(r.reason).toContain('0xffffffff81a00010');
  });

  it('accepts allowed string values and refuses others', () => {
    const base = Buffer.from('/sbin/modprobe\0\0\0\0', 'latin1');
    const allowed = rec('string', { allow_values: ['/sbin/modprobe', '/usr/sbin/modprobe'] });
    expect(checkRegion(allowed, base, Buffer.from('/usr/sbin/modprobe', 'latin1'), ctx)).toMatchObject({
      malicious: false,
      check: 'allowed-value',
    });
    expect(checkRegion(allowed, base, Buffer.from('/tmp/x\0modprobe\0\0\0', 'latin1'), ctx)).toMatchObject({
      malicious: true,
      check: 'value-not-allowed',
    });
  });

  it('treats text changes as findings unless the writer is allowed', () => {
    const base = Buffer.from([0x55, 0x48, 0x89, 0xe5]);
    const patched = Buffer.from([0xaa, 0x48, 0x89, 0xe5]);
    expect(checkRegion(rec('text'), base, patched, ctx)).toMatchObject({ malicious: true, check: 'text-modified' });
    const allowed = rec('text', { allow_writers: ['text_poke*'] });
    expect(checkRegion(allowed, base, patched, { text, writerSymbol: 'text_poke_bp_batch+0x1c' })).toMatchObject({
      malicious: false,
      check: 'allowed-writer',
    });
  });
});
