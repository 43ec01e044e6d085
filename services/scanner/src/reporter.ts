import { createHash } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import { type Finding, SCHEMA_VERSION, type Subjects, type Verdict, validators } from '@vmi/contracts';
import { publishMessage } from '@vmi/service-runtime';
import { v5 as uuidv5 } from 'uuid';

const VERDICT_NAMESPACE = '8f0e6f0c-2b1d-5c7e-9a43-1e5d7c9b2a10';

export const sha256Hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * Publishes findings and verdicts, each with a deterministic `Nats-Msg-Id`, and remembers which
 * changed state of which object was already reported, so a trap, the sweep and a scan that all see
 * the same change raise one finding between them.
 */
export class Reporter {
  /** `guest|object|sha of the bad bytes` -> finding id. */
  private readonly reported = new Map<string, string>();
  readonly counters = { findings: 0, verdicts: 0 };

  constructor(
    private readonly js: JetStreamClient,
    private readonly subjects: Subjects,
    private readonly host: string,
  ) {}

  static stateKey(guest: string, object: string, sha: string): string {
    return `${guest}|${object}|${sha}`;
  }

  reportedAs(key: string): string | undefined {
    return this.reported.get(key);
  }

  /** Publishes the finding unless this state was reported already; returns the id that stands for it. */
  async finding(finding: Finding, stateKey: string): Promise<{ id: string; published: boolean }> {
    const earlier = this.reported.get(stateKey);
    if (earlier !== undefined) return { id: earlier, published: false };
    await publishMessage(this.js, this.subjects.finding(finding.severity, finding.guest, finding.rule), finding, {
      validator: validators.finding,
    });
    this.reported.set(stateKey, finding.id);
    this.counters.findings += 1;
    return { id: finding.id, published: true };
  }

  /** Forgets the reported states of an object (it is back to its baseline: a new change is news). */
  clear(guest: string, object: string): void {
    const prefix = `${guest}|${object}|`;
    for (const k of this.reported.keys()) if (k.startsWith(prefix)) this.reported.delete(k);
  }

  async verdict(input: {
    trapId: string;
    host: string;
    guest: string;
    malicious: boolean;
    reason: string;
    findingId: string | null;
    restore: boolean;
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
    // Addressed to the agent that holds the trap: its host is in the subject.
    await publishMessage(this.js, this.subjects.verdict(input.host, input.guest), verdict, { validator: validators.verdict });
    this.counters.verdicts += 1;
    return verdict;
  }
}
