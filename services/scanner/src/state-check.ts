import type { Finding } from '@vmi/contracts';
import { checkRegion } from './checks.js';
import { changeWindow } from './evidence-window.js';
import { buildFinding, stateFindingId } from './finding.js';
import type { GuestContext } from './guest-context.js';
import type { ProtectedObject } from './protection-view.js';
import { type Reporter, sha256Hex } from './reporter.js';

/**
 * Checks one object's present state without a trap (sweep, periodic or on-demand scan). The
 * finding's id derives from the object and its changed bytes, so seeing the same change again
 * never raises a second finding.
 */
export async function checkState(
  obj: ProtectedObject,
  ctx: GuestContext,
  reporter: Reporter,
  detectedBy: 'sweep' | 'scan',
  meta: { host: string; productVersion: string },
): Promise<{ finding: Finding | null; published: boolean; findingId: string | null }> {
  const { record, baseline } = obj;
  const copy = await ctx.reader.copy(BigInt(record.physical), record.length);
  const result = checkRegion(record, baseline, copy.bytes, { text: ctx.text, writerSymbol: null });
  if (!result.malicious) {
    if (result.check === 'unchanged') await reporter.clear(record.guest, record.object);
    return { finding: null, published: false, findingId: null };
  }
  const sha = sha256Hex(copy.bytes);
  const earlier = reporter.reportedAs(record.guest, record.object, sha);
  if (earlier !== undefined) return { finding: null, published: false, findingId: earlier };
  const window = changeWindow(baseline, copy.bytes);
  const physical = BigInt(record.physical) + BigInt(window.offset);
  const virtual = record.virtual === null ? null : `0x${(BigInt(record.virtual) + BigInt(window.offset)).toString(16)}`;
  const finding = buildFinding({
    id: stateFindingId(record.guest, record.object, record.sha256, sha),
    host: meta.host,
    guest: record.guest,
    record,
    result,
    productVersion: meta.productVersion,
    evidence: {
      trap_id: null,
      address: { virtual, physical: `0x${physical.toString(16)}` },
      length: window.after.length,
      old_bytes: window.before.toString('hex'),
      new_bytes: window.after.toString('hex'),
      writer: { rip: null, cr3: null, vcpu: null, kind: 'unknown', symbol: null, module: null },
      guard: copy.guard,
      attempts: copy.attempts,
      aborts: copy.aborts,
      mechanism: null,
      detected_by: detectedBy,
      restored: false,
    },
  });
  const r = await reporter.finding(finding, sha);
  return { finding, published: r.published, findingId: r.id };
}
