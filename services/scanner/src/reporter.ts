import { createHash } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import { type Finding, SCHEMA_VERSION, type Subjects, slugToken, type Verdict, validators } from '@vmi/contracts';
import { publishMessage } from '@vmi/service-runtime';
import { v5 as uuidv5 } from 'uuid';
import type { ProtectionView } from './protection-view.js';

const VERDICT_NAMESPACE = '8f0e6f0c-2b1d-5c7e-9a43-1e5d7c9b2a10';

export const sha256Hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * Publishes findings and verdicts, each with a deterministic `Nats-Msg-Id`, and remembers which
 * changed state of which object was already reported, so a trap, the sweep and a scan that all see
 * the same change raise one finding between them.
 */
export class Reporter {
  /** Findings being published, by state, so two traps on one change wait for one finding. */
  private readonly inFlight = new Map<string, Promise<{ id: string; published: boolean }>>();
  readonly counters = { findings: 0, verdicts: 0 };

  constructor(
    private readonly js: JetStreamClient,
    private readonly subjects: Subjects,
    private readonly host: string,
    private readonly view: ProtectionView,
    /** Hands a held trap's verdict straight to the agent holding it (the trap handoff); false when it could not. */
    private readonly handBack: (verdict: Verdict) => boolean = () => false,
  ) {}

  /** The finding that already stands for this state of the object, from any scanner. */
  reportedAs(guest: string, object: string, sha256: string): string | undefined {
    return this.view.reportedAs(guest, object, sha256);
  }

  /**
   * Publishes the finding unless this state of the object was reported already (by a trap, the
   * sweep or a scan, here or in another scanner); returns the id that stands for the state.
   */
  finding(finding: Finding, sha256: string): Promise<{ id: string; published: boolean }> {
    const guest = finding.guest;
    const object = finding.evidence.object;
    const key = `${guest}|${object}|${sha256}`;
    const pending = this.inFlight.get(key);
    if (pending !== undefined) return pending.then((r) => ({ id: r.id, published: false }));
    const run = (async () => {
      const earlier = this.view.reportedAs(guest, object, sha256);
      if (earlier !== undefined) return { id: earlier, published: false };
      await publishMessage(this.js, this.subjects.finding(finding.severity, finding.guest, finding.rule), finding, {
        validator: validators.finding,
      });
      this.counters.findings += 1;
      await this.view.markReported({ guest, object, sha256, finding_id: finding.id });
      return { id: finding.id, published: true };
    })().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, run);
    return run;
  }

  /** The object is back to its baseline: a new change of it is news again. */
  clear(guest: string, object: string): Promise<void> {
    return this.view.clearReported(guest, object);
  }

  async verdict(input: {
    trapId: string;
    host: string;
    guest: string;
    malicious: boolean;
    reason: string;
    findingId: string | null;
    restore: boolean;
    /** The agent holds the writing vCPU until this verdict reaches it. */
    held: boolean;
  }): Promise<Verdict> {
    const verdict: Verdict = {
      id: uuidv5(`verdict:${input.trapId}`, VERDICT_NAMESPACE),
      time: new Date().toISOString(),
      version: SCHEMA_VERSION,
      type: 'verdict',
      host: this.host,
      guest: input.guest,
      trap_id: input.trapId,
      verdict: input.malicious ? 'malicious' : 'benign',
      reason: input.reason.slice(0, 2000) || 'checked',
      finding_id: input.findingId,
      restore: input.restore,
    };
    validators.verdict.parse(verdict);
    // A held vCPU waits for it: straight to the agent first, then the record. A crash between the
    // two leaves the trap unacknowledged, so it is checked again and the record still written.
    if (input.held && slugToken(input.host) === slugToken(this.host)) this.handBack(verdict);
    // Addressed to the agent that holds the trap: its host is in the subject.
    await publishMessage(this.js, this.subjects.verdict(input.host, input.guest), verdict);
    this.counters.verdicts += 1;
    return verdict;
  }
}
