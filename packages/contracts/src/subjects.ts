import { createHash } from 'node:crypto';
import { CoreErrors } from './errors/core.js';
import { VmiError } from './errors/vmi-error.js';

export const DEFAULT_PREFIX = 'vmi';
const MAX_TOKEN = 64;
const SAFE_TOKEN = /^[a-z0-9][a-z0-9_-]*$/;

/**
 * Turns any host, guest, rule or event name into one safe NATS subject token: lower case letters,
 * digits, `-` and `_` only, so no name can inject `.`, `*`, `>` or whitespace. A name that had to
 * be changed gets a short hash of the original appended, so two different names never collide
 * (`web.1` and `web-1` become different tokens).
 */
export function slugToken(name: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new VmiError(CoreErrors.SUBJECT_TOKEN, 'empty name');
  }
  if (name.length <= MAX_TOKEN && SAFE_TOKEN.test(name)) return name;
  let base = name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[-_]+/, '')
    .replace(/-+$/, '');
  const hash = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 8);
  base = base.slice(0, MAX_TOKEN - 9);
  return base.length > 0 ? `${base}-${hash}` : `x-${hash}`;
}

/** Checks a token that must already be safe (e.g. parsed back from a subject). */
export function assertToken(token: string, what: string): string {
  if (!SAFE_TOKEN.test(token) || token.length > MAX_TOKEN) {
    throw new VmiError(CoreErrors.SUBJECT_TOKEN, `${what} token ${JSON.stringify(token.slice(0, 80))}`);
  }
  return token;
}

export type SubjectKind = 'trap' | 'trap-summary' | 'finding' | 'agent' | 'input' | 'isolation' | 'scan' | 'verdict' | 'deadletter';

export interface ParsedSubject {
  readonly prefix: string;
  readonly kind: SubjectKind;
  /** The tokens after the kind, in order (already slugged). */
  readonly tokens: readonly string[];
}

/** Token names after the kind, per subject kind; the parser checks the count. */
const LAYOUT: Record<SubjectKind, readonly string[]> = {
  trap: ['host', 'guest'],
  'trap-summary': ['host', 'guest'],
  finding: ['severity', 'guest', 'rule'],
  agent: ['host', 'event'],
  input: ['guest', 'event'],
  isolation: ['guest', 'event'],
  scan: ['host', 'guest'],
  verdict: ['host', 'guest'],
  deadletter: ['stream', 'consumer'],
};

/**
 * Builds and parses every subject the platform uses. One instance per prefix; all names passed in
 * are slugged.
 */
export class Subjects {
  readonly prefix: string;

  constructor(prefix: string = DEFAULT_PREFIX) {
    this.prefix = assertToken(prefix, 'prefix');
  }

  private build(kind: SubjectKind, ...names: string[]): string {
    return [this.prefix, kind, ...names.map(slugToken)].join('.');
  }

  /** `vmi.trap.<host>.<guest>`: one trap event. */
  trap(host: string, guest: string): string {
    return this.build('trap', host, guest);
  }
  /** `vmi.trap.<host>.*`: every trap event of one host's guests. */
  hostTraps(host: string): string {
    return `${this.build('trap', host)}.*`;
  }
  /** `vmi.trap-summary.<host>.<guest>`: a coalesced storm summary. */
  trapSummary(host: string, guest: string): string {
    return this.build('trap-summary', host, guest);
  }
  /** `vmi.finding.<severity>.<guest>.<rule>`: an OCSF Detection Finding. */
  finding(severity: string, guest: string, rule: string): string {
    return this.build('finding', severity, guest, rule);
  }
  /** `vmi.agent.<host>.<event>`: agent and guest lifecycle. */
  agent(host: string, event: string): string {
    return this.build('agent', host, event);
  }
  /** `vmi.input.<guest>.<event>`: input-gateway events (never plaintext). */
  input(guest: string, event: string): string {
    return this.build('input', guest, event);
  }
  /** `vmi.isolation.<guest>.<event>`: kernel-VM lifecycle. */
  isolation(guest: string, event: string): string {
    return this.build('isolation', guest, event);
  }
  /** `vmi.scan.<host>.<guest>`: an on-demand scan request. */
  scan(host: string, guest: string): string {
    return this.build('scan', host, guest);
  }
  /** `vmi.scan.<host>.*`: every on-demand scan request for one host's guests. */
  hostScans(host: string): string {
    return `${this.build('scan', host)}.*`;
  }
  /** `vmi.verdict.<host>.<guest>`: the scanner's verdict on a held (enforce-mode) trap. */
  verdict(host: string, guest: string): string {
    return this.build('verdict', host, guest);
  }
  /** `vmi.deadletter.<stream>.<consumer>`: messages that can never be processed. */
  deadLetter(stream: string, consumer: string): string {
    return this.build('deadletter', stream, consumer);
  }
  /** `vmi.ctl.<service>`: the control micro-service subject root of one service. */
  control(service: string): string {
    return `${this.prefix}.ctl.${slugToken(service)}`;
  }
  /** `vmi.<kind>.>`: everything of one kind. */
  all(kind: SubjectKind): string {
    return `${this.prefix}.${kind}.>`;
  }

  /** Parses a subject built by this class; throws `VMI_ERR_SUBJECT_PARSE` on anything else. */
  parse(subject: string): ParsedSubject {
    const parts = subject.split('.');
    const [prefix, kind, ...tokens] = parts;
    if (prefix !== this.prefix || kind === undefined || !(kind in LAYOUT)) {
      throw new VmiError(CoreErrors.SUBJECT_PARSE, subject.slice(0, 200));
    }
    const layout = LAYOUT[kind as SubjectKind];
    if (tokens.length !== layout.length) {
      throw new VmiError(CoreErrors.SUBJECT_PARSE, subject.slice(0, 200));
    }
    tokens.forEach((t, i) => {
      assertToken(t, layout[i] ?? 'token');
    });
    return { prefix, kind: kind as SubjectKind, tokens };
  }

  /** Parses and names the tokens: `{ host, guest }` for a trap subject, and so on. */
  parseNamed(subject: string): { kind: SubjectKind } & Record<string, string> {
    const p = this.parse(subject);
    const out: Record<string, string> = {};
    LAYOUT[p.kind].forEach((name, i) => {
      out[name] = p.tokens[i] as string;
    });
    return { ...out, kind: p.kind };
  }
}
