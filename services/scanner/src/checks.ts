import type { BaselineRecord } from '@vmi/contracts';
import { cString, idtGateTarget, inText, syscallTarget, type TextRange } from './pointer-checks.js';

export type CheckName =
  | 'unchanged'
  | 'allowed-value'
  | 'allowed-writer'
  | 'hash'
  | 'pointer-outside-text'
  | 'text-modified'
  | 'value-not-allowed';

export interface CheckResult {
  readonly malicious: boolean;
  /** The check that decided: for a finding, which check failed. */
  readonly check: CheckName;
  readonly reason: string;
}

/** `name` matches `pattern` exactly, or by prefix when the pattern ends with `*`. */
function writerMatches(symbol: string, pattern: string): boolean {
  const name = symbol.replace(/\+0x[0-9a-f]+$/, '');
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/**
 * Judges the bytes a guarded copy found in one protected object against its baseline and rule:
 * unchanged or an allowed value or writer is benign; otherwise the object's own check names why it
 * is a finding (a table entry pointing outside kernel text, modified text, a string holding a value
 * nobody allowed, or simply a changed hash).
 */
export function checkRegion(
  record: Pick<BaselineRecord, 'object' | 'check' | 'allow_values' | 'allow_writers'>,
  baseline: Uint8Array,
  current: Uint8Array,
  context: { text: readonly TextRange[]; writerSymbol: string | null },
): CheckResult {
  if (Buffer.compare(Buffer.from(baseline), Buffer.from(current)) === 0) {
    return { malicious: false, check: 'unchanged', reason: `${record.object} matches its baseline` };
  }
  const writer = context.writerSymbol;
  if (writer !== null && record.allow_writers.some((p) => writerMatches(writer, p))) {
    return { malicious: false, check: 'allowed-writer', reason: `${writer} is an allowed writer of ${record.object}` };
  }
  switch (record.check) {
    case 'string': {
      const value = cString(current);
      if (record.allow_values.includes(value)) {
        return { malicious: false, check: 'allowed-value', reason: `${record.object} holds an allowed value` };
      }
      return {
        malicious: true,
        check: 'value-not-allowed',
        reason: `${record.object} holds ${JSON.stringify(value.slice(0, 200))}, which is not allowed`,
      };
    }
    case 'syscall-entry':
    case 'idt-gate': {
      if (record.allow_values.includes(hex(current))) {
        return { malicious: false, check: 'allowed-value', reason: `${record.object} holds an allowed value` };
      }
      const decoded = record.check === 'syscall-entry' ? syscallTarget(current) : (idtGateTarget(current)?.target ?? null);
      const target = decoded === null ? null : decoded;
      if (target === null || inText(target, context.text) === null) {
        const shown = target === null ? 'nothing readable' : `0x${target.toString(16)}`;
        return {
          malicious: true,
          check: 'pointer-outside-text',
          reason: `${record.object} points to ${shown}, outside kernel and module text`,
        };
      }
      return { malicious: true, check: 'hash', reason: `${record.object} was redirected to 0x${target.toString(16)}` };
    }
    case 'text':
      return { malicious: true, check: 'text-modified', reason: `kernel text ${record.object} differs from its baseline` };
    case 'hash':
      if (record.allow_values.includes(hex(current))) {
        return { malicious: false, check: 'allowed-value', reason: `${record.object} holds an allowed value` };
      }
      return { malicious: true, check: 'hash', reason: `${record.object} differs from its baseline` };
  }
}
