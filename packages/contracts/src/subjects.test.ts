import { describe, expect, it } from 'vitest';
import { isVmiError } from './errors/index.js';
import { CONSUMERS } from './streams.js';
import { Subjects, slugToken } from './subjects.js';

describe('subjects', () => {
  const s = new Subjects();

  it('builds and parses a trap subject', () => {
    const subject = s.trap('hv-01', 'web-1');
    expect(subject).toBe('vmi.trap.hv-01.web-1');
    expect(s.parseNamed(subject)).toMatchObject({ kind: 'trap', host: 'hv-01', guest: 'web-1' });
  });

  it.each(['a.b', 'a*', 'x>', 'a b', '..', '*', '>', 'A.B.>', 'tab\tname'])('slugs %j into one safe token', (name) => {
    const token = slugToken(name);
    expect(token).toMatch(/^[a-z0-9][a-z0-9_-]*$/);
    expect(s.parse(s.trap(name, name)).tokens).toHaveLength(2);
  });

  it("gives each host's scanners the traps and scans of that host's guests only", () => {
    expect(s.hostTraps('hv.01')).toBe(`vmi.trap.${slugToken('hv.01')}.*`);
    const traps = CONSUMERS.scannerTraps('hv-01', 'p1');
    expect(traps).toMatchObject({ stream: 'P1_TRAPS', durable_name: 'scanner-traps-hv-01', filter_subject: 'p1.trap.hv-01.*' });
    expect(CONSUMERS.scannerTraps('hv-02', 'p1').durable_name).not.toBe(traps.durable_name);
    expect(CONSUMERS.scannerScans('hv-01', 'p1')).toMatchObject({ durable_name: 'scanner-scans-hv-01', filter_subject: 'p1.scan.hv-01.*' });
  });

  it('keeps distinct names distinct after slugging', () => {
    expect(slugToken('web.1')).not.toBe(slugToken('web-1'));
  });

  it('refuses subjects it did not build', () => {
    for (const bad of ['vmi.trap.a', 'vmi.trap.a.b.c', 'other.trap.a.b', 'vmi.nope.a.b', 'vmi.trap.A.b', 'vmi.trap.*.b']) {
      let err: unknown;
      try {
        s.parse(bad);
      } catch (e) {
        err = e;
      }
      expect(isVmiError(err)).toBe(true);
    }
  });
});
