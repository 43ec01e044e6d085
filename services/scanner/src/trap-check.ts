import { type BaselineRecord, ScannerErrors, slugToken, type TrapEvent, VmiError } from '@vmi/contracts';
import { checkRegion } from './checks.js';
import { changeWindow } from './evidence-window.js';
import { buildFinding, trapFindingId } from './finding.js';
import type { GuestContext } from './guest-context.js';
import type { GuardedBytes } from './guest-reader.js';
import type { ProtectionView } from './protection-view.js';
import { type Reporter, sha256Hex } from './reporter.js';
import type { SettleGroups } from './settle-groups.js';
import type { TrapsInHand } from './traps-in-hand.js';
import { resolveWriter } from './writer.js';

export interface TrapCheckDeps {
  readonly view: ProtectionView;
  readonly context: (guestSlug: string) => Promise<GuestContext>;
  readonly reporter: Reporter;
  readonly host: string;
  readonly stateWaitMs: number;
  /** Where the traps of one multi-store write (a string) wait for the rest of it and share one read. */
  readonly settle: SettleGroups<GuardedBytes>;
  /** Where the trap says it is being checked, so the sweep waits for its finding. */
  readonly inHand: TrapsInHand;
  readonly productVersion: string;
}

export interface TrapOutcome {
  readonly malicious: boolean;
  readonly findingId: string | null;
  readonly published: boolean;
  readonly reason: string;
}

/** The object as the trap says it was written: the baseline with the trapped bytes put in. */
function asWritten(record: BaselineRecord, baseline: Buffer, event: TrapEvent): Buffer | null {
  if (event.address.physical === null || event.new_bytes.length === 0) return null;
  const offset = Number(BigInt(event.address.physical) - BigInt(record.physical));
  const bytes = Buffer.from(event.new_bytes, 'hex');
  if (offset < 0 || offset + bytes.length > baseline.length) return null;
  const out = Buffer.from(baseline);
  bytes.copy(out, offset);
  return out;
}

/**
 * Checks one trap: a guarded copy of the object, then its checks against the baseline, both for
 * what memory holds now and for what the trap saw written (a write undone before the copy is still
 * a finding). Every trap gets a verdict; a finding's id derives from the trap's, so a redelivered
 * trap never yields a second finding.
 */
export async function checkTrap(event: TrapEvent, deps: TrapCheckDeps): Promise<TrapOutcome> {
  const done = deps.inHand.begin(event.guest, event.region.object);
  try {
    return await judgeTrap(event, deps);
  } finally {
    done();
  }
}

async function judgeTrap(event: TrapEvent, deps: TrapCheckDeps): Promise<TrapOutcome> {
  const slug = slugToken(event.guest);
  const object = event.region.object;
  const ready = await deps.view.until(() => deps.view.guest(slug)?.objects.has(object) === true, deps.stateWaitMs);
  const view = deps.view.guest(slug);
  const protectedObject = view?.objects.get(object);
  if (!ready || view === undefined || protectedObject === undefined) {
    throw new VmiError(ScannerErrors.BASELINE_MISSING, `${event.guest}: ${object}`);
  }
  const { record, baseline } = protectedObject;
  const ctx = await deps.context(slug);
  const read = () => ctx.reader.copy(BigInt(record.physical), record.length);
  // A string is written a few bytes per store, each its own trap: judge it once the writes have
  // settled, not halfway, and on one read for all of them (one change, one finding).
  const multiStore = record.check === 'string';
  const copy = multiStore ? await deps.settle.join(`${slug}|${object}`, read) : await read();
  const writer = resolveWriter(event.writer, ctx.symbols, [...ctx.text, ...ctx.modules]);
  const checkContext = { text: ctx.text, writerSymbol: writer.symbol };
  const now = checkRegion(record, baseline, copy.bytes, checkContext);
  const written = multiStore ? null : asWritten(record, baseline, event);
  const then = written === null ? null : checkRegion(record, baseline, written, checkContext);
  const result = now.malicious || then === null || !then.malicious ? now : then;
  const bad = now.malicious ? copy.bytes : then?.malicious ? (written as Buffer) : null;
  let findingId: string | null = null;
  let published = false;
  if (result.malicious && bad !== null) {
    const window = changeWindow(baseline, bad);
    const finding = buildFinding({
      id: trapFindingId(event.id, object),
      host: deps.host,
      guest: event.guest,
      record,
      result,
      productVersion: deps.productVersion,
      evidence: {
        trap_id: event.id,
        address: event.address,
        length: window.after.length,
        old_bytes: window.before.toString('hex'),
        new_bytes: window.after.toString('hex'),
        writer,
        guard: copy.guard,
        attempts: copy.attempts,
        aborts: copy.aborts,
        mechanism: event.mechanism,
        detected_by: 'trap',
        restored: event.held && event.region.mode === 'enforce',
      },
    });
    const r = await deps.reporter.finding(finding, sha256Hex(bad));
    findingId = r.id;
    published = r.published;
  } else if (!now.malicious && now.check === 'unchanged') {
    await deps.reporter.clear(event.guest, object);
  }
  await deps.reporter.verdict({
    trapId: event.id,
    host: event.host,
    guest: event.guest,
    malicious: result.malicious,
    reason: result.reason,
    findingId,
    restore: result.malicious && event.held,
    held: event.held,
  });
  return { malicious: result.malicious, findingId, published, reason: result.reason };
}
