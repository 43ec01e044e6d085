import { describe, expect, it } from 'vitest';
import { LineSplitter } from './json-lines.js';

function splitter(max = 16) {
  const lines: string[] = [];
  return { lines, s: new LineSplitter(max, (l) => lines.push(l.toString('utf8'))) };
}

describe('newline-delimited framing', () => {
  it('passes on each complete line, however the stream was cut', () => {
    const { lines, s } = splitter();
    expect(s.push(Buffer.from('{"a":1}\n{"b"'))).toBe(true);
    expect(lines).toEqual(['{"a":1}']);
    expect(s.push(Buffer.from(':2'))).toBe(true);
    expect(s.push(Buffer.from('}\n\n{"c":3}\n'))).toBe(true);
    expect(lines).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it('keeps a partial line until its end comes', () => {
    const { lines, s } = splitter();
    s.push(Buffer.from('abc'));
    s.push(Buffer.from('def'));
    expect(lines).toEqual([]);
    s.push(Buffer.from('\n'));
    expect(lines).toEqual(['abcdef']);
  });

  it('says when a line grows past the limit, ended or not', () => {
    const unended = splitter(8);
    expect(unended.s.push(Buffer.from('12345'))).toBe(true);
    expect(unended.s.push(Buffer.from('6789'))).toBe(false);
    const ended = splitter(8);
    expect(ended.s.push(Buffer.from('ok\n123456789\n'))).toBe(false);
    expect(ended.lines).toEqual(['ok']);
  });
});
