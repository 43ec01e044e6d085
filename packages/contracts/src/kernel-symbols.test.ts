import { describe, expect, it } from 'vitest';
import { VmiError } from './errors/vmi-error.js';
import { KernelSymbols } from './kernel-symbols.js';

const KALLSYMS = [
  'ffffffff81000000 T _stext',
  'ffffffff81000100 T do_one',
  'ffffffff81000200 t helper',
  'ffffffff82000000 D sys_call_table',
  'ffffffff82000800 D modprobe_path',
  '0000000000000000 A zero_sym',
  'ffffffffc0001000 t mod_init\t[vmi_attack]',
  'ffffffffc0001400 T mod_write\t[vmi_attack]',
  'ffffffffc0002000 d mod_data\t[vmi_attack]',
  'ffffffffc0010000 t other_fn\t[other]',
  // A second definition of a name: the kernel image's, listed first, stands.
  'ffffffffc0010800 T do_one\t[other]',
].join('\n');

describe('kernel symbols', () => {
  const s = KernelSymbols.parse(KALLSYMS);

  it('look names up, the first definition standing', () => {
    expect(s.address('sys_call_table')).toBe(0xffffffff82000000n);
    expect(s.address('do_one')).toBe(0xffffffff81000100n);
    expect(s.address('zero_sym')).toBe(0n);
    expect(s.address('missing')).toBeUndefined();
    expect(s.size).toBe(10);
  });

  it('turn an instruction pointer into the text symbol at or below it, with the offset', () => {
    expect(s.symbolize(0xffffffff81000123n)).toEqual({
      symbol: { name: 'do_one', address: 0xffffffff81000100n, type: 'T', module: null },
      offset: 0x23n,
    });
    expect(s.symbolize(0xffffffff81000200n)?.symbol.name).toBe('helper');
    // Data symbols are never a writer: the nearest text below the data stands.
    expect(s.symbolize(0xffffffff82000010n)?.symbol.name).toBe('helper');
    expect(s.symbolize(0xffffffffc0001404n)).toEqual({
      symbol: { name: 'mod_write', address: 0xffffffffc0001400n, type: 'T', module: 'vmi_attack' },
      offset: 4n,
    });
    expect(s.symbolize(0xffffffff80000000n)).toBeNull();
  });

  it('find the next symbol above an address, whatever its kind', () => {
    expect(s.nextAbove(0xffffffff82000000n)).toBe(0xffffffff82000800n);
    expect(s.nextAbove(0xffffffff81000000n)).toBe(0xffffffff81000100n);
    expect(s.nextAbove(0xffffffffc0010800n)).toBeUndefined();
  });

  it("give each module's text as a range that stops short of the next module", () => {
    expect(s.moduleTextRanges()).toEqual([
      { module: 'vmi_attack', start: 0xffffffffc0001000n, end: 0xffffffffc0002400n },
      { module: 'other', start: 0xffffffffc0010000n, end: 0xffffffffc0011800n },
    ]);
  });

  it('read a JSON profile: a name map, per-module maps and the layout fields', () => {
    const j = KernelSymbols.parse(
      JSON.stringify({
        symbols: { _stext: '0xffffffff81000000', sys_call_table: 'ffffffff82000000', bad: 'zz' },
        modules: { vmi_attack: { mod_write: '0xffffffffc0001400' } },
        page_offset_base: '0xffff888000000000',
        phys_base: 0,
        nr_syscalls: 451,
      }),
    );
    expect(j.address('sys_call_table')).toBe(0xffffffff82000000n);
    expect(j.address('bad')).toBeUndefined();
    expect(j.symbolize(0xffffffffc0001410n)?.symbol).toEqual({
      name: 'mod_write',
      address: 0xffffffffc0001400n,
      type: '?',
      module: 'vmi_attack',
    });
    expect(j.pageOffsetBase).toBe(0xffff888000000000n);
    expect(j.physBase).toBe(0n);
    expect(j.syscallCount).toBe(451);
  });

  it('refuse a profile without symbols, and an entry without an address, naming where', () => {
    expect(() => KernelSymbols.parse('{"symbols": {}}')).toThrow(VmiError);
    const err = (() => {
      try {
        KernelSymbols.parse(JSON.stringify({ symbols: [{ name: 'a', address: '0x10' }, { name: 'b' }] }));
      } catch (e) {
        return e as VmiError;
      }
    })();
    expect(err?.message).toContain('/symbols/1');
  });
});
