import { describe, expect, it } from 'vitest';
import { isVmiError } from './errors/index.js';
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
