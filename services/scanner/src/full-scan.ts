import { ScannerErrors, type ScannerScanReply, slugToken, VmiError } from '@vmi/contracts';
import type { GuestContext } from './guest-context.js';
import type { ProtectionView } from './protection-view.js';
import type { Reporter } from './reporter.js';
import { checkState } from './state-check.js';

export interface ScanDeps {
  readonly view: ProtectionView;
  readonly context: (guestSlug: string) => Promise<GuestContext>;
  readonly reporter: Reporter;
  readonly host: string;
  readonly productVersion: string;
}

/**
 * A full scan of one guest: a guarded copy of every protected object (or those of the named
 * rules) and all checks. It serves on-demand requests and the periodic mode kept to compare
 * against write-triggered detection.
 */
export async function scanGuest(guest: string, rules: readonly string[], deps: ScanDeps): Promise<ScannerScanReply> {
  const started = performance.now();
  const view = deps.view.guest(slugToken(guest));
  if (view === undefined) throw new VmiError(ScannerErrors.GUEST_UNKNOWN, guest);
  // Its RAM file is a path on its own host: read here, the same path could be another guest's memory.
  if (slugToken(view.guest.host) !== slugToken(deps.host)) {
    throw new VmiError(ScannerErrors.GUEST_ELSEWHERE, `${guest} is on ${view.guest.host}`, { details: { host: view.guest.host } });
  }
  const ctx = await deps.context(slugToken(guest));
  const wanted = new Set(rules);
  const findings: string[] = [];
  let checked = 0;
  for (const obj of view.objects.values()) {
    if (wanted.size > 0 && !wanted.has(obj.record.rule)) continue;
    checked += 1;
    const r = await checkState(obj, ctx, deps.reporter, 'scan', { host: deps.host, productVersion: deps.productVersion });
    if (r.findingId !== null) findings.push(r.findingId);
  }
  return { guest: view.guest.guest, checked, findings, duration_ms: performance.now() - started };
}
