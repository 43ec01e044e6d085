import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  type AgentEvent,
  allStreamDefinitions,
  type Finding,
  type ProtectionPolicy,
  protectionKv,
  type TrapSummary,
  type Verdict,
  validators,
} from '@vmi/contracts';
import { ensureGuestImage, type Guest, type GuestImage, type GuestProfile, launchGuest } from '@vmi/guest';
import { uffdShimEnv } from '@vmi/native-core';
import { type HostAgent, startAgent } from '../app.js';
import type { GuestBackends } from '../guest-session.js';

export const SHARED_NATS = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
export const HOST = 'test-host';

export interface RigOptions {
  /** Label for the guest and the subject prefix. */
  name: string;
  policy: (profile: GuestProfile) => ProtectionPolicy;
  natsUrl?: string;
  agentEnv?: Record<string, string>;
  /** Start QEMU with the userfaultfd shim, so the agent gets physical page traps too. */
  uffd?: boolean;
  /** Environment of services other tests start beside the agent (e.g. the scanner). */
  extraEnv?: Record<string, string>;
  /**
   * The agent hands traps to local scanners over a socket in the rig's directory (default true, as
   * the stack runs them); false leaves the scanner its NATS paths alone.
   */
  handoff?: boolean;
}

/**
 * What an end-to-end test needs: a real guest, NATS under a fresh subject prefix, the host agent,
 * and everything published under that prefix. Services started beside it are closed by `close()`.
 */
export class GuestRig {
  private readonly decodedFindings: Finding[] = [];
  /** Findings as they came, decoded when read: the rig's parsing stays off the timed detection path. */
  readonly arrivedFindings: Uint8Array[] = [];
  readonly agentEvents: AgentEvent[] = [];
  readonly summaries: TrapSummary[] = [];
  readonly verdicts: Verdict[] = [];
  trapCount = 0;
  agent: HostAgent | null = null;
  /** Closed first by `close()`, last added first (e.g. a scanner). */
  readonly closers: Array<() => Promise<unknown>> = [];

  constructor(
    readonly options: RigOptions,
    readonly prefix: string,
    readonly guest: Guest,
    readonly image: GuestImage,
    readonly nc: NatsConnection,
    readonly dir: string,
    readonly policyPath: string,
    profile: GuestProfile,
  ) {
    this.profile = profile;
  }

  /** The image's symbol profile with module symbols as the running guest has them. */
  get profilePath(): string {
    return join(this.dir, 'profile.json');
  }

  /** The agent's trap handoff socket (when `handoff` is on). */
  get handoffSocket(): string {
    return join(this.dir, 'traps.sock');
  }

  get uffdSocket(): string {
    return join(this.dir, 'uffd.sock');
  }

  /** The symbol profile the services read (module symbols as this guest has them). */
  profile: GuestProfile;

  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      NATS_URL: this.options.natsUrl ?? SHARED_NATS,
      SUBJECT_PREFIX: this.prefix,
      HOST_NAME: HOST,
      LOG_LEVEL: process.env.VMI_TEST_LOG_LEVEL ?? 'warn',
      HEALTH_PORT: '0',
      ...(this.options.handoff === false ? {} : { TRAP_HANDOFF_SOCKET: this.handoffSocket }),
      ...extra,
    };
  }

  async startAgent(backends?: GuestBackends): Promise<HostAgent> {
    const gdb = this.guest.gdbAddress;
    if (gdb === undefined) throw new Error('guest has no gdbstub');
    this.agent = await startAgent({
      env: this.env(this.options.agentEnv),
      handleSignals: false,
      waitForNats: false,
      ...(backends === undefined ? {} : { backends }),
      guests: [
        {
          name: this.options.name,
          gdbstub: `${gdb.host}:${gdb.port}`,
          ramFile: this.guest.ramPath,
          profile: this.profilePath,
          policy: this.policyPath,
          ...(this.options.uffd === true ? { uffdSocket: this.uffdSocket } : {}),
        },
      ],
    });
    return this.agent;
  }

  writePolicy(policy: ProtectionPolicy | string): void {
    writeFileSync(this.policyPath, typeof policy === 'string' ? policy : JSON.stringify(policy, null, 2));
  }

  /** Runs one /proc/vmi_attack command in the guest and returns the module's report. */
  async attack(command: string): Promise<string> {
    const r = await this.guest.exec(`echo '${command}' > /proc/vmi_attack; cat /proc/vmi_attack`, { timeoutMs: 60_000 });
    if (!r.output.includes('last=') || r.output.includes('last=error')) throw new Error(`attack failed: ${r.output}`);
    return r.output;
  }

  async waitFor<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 30_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = probe();
      if (v !== undefined && v !== null && v !== false) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Every finding published under the prefix so far, in arrival order. */
  get findings(): Finding[] {
    for (const data of this.arrivedFindings.splice(0)) this.decodedFindings.push(validators.finding.decode(data));
    return this.decodedFindings;
  }

  findingFor(object: string, since = 0): Finding | undefined {
    return this.findings.slice(since).find((f) => f.evidence.object === object);
  }

  async close(): Promise<void> {
    for (const close of this.closers.reverse()) await close().catch(() => undefined);
    await this.agent?.stop().catch(() => undefined);
    await this.guest.close().catch(() => undefined);
    await removePrefix(this.nc, this.prefix).catch(() => undefined);
    await this.nc.drain().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Deletes the streams and the KV bucket of one subject prefix. */
export async function removePrefix(nc: NatsConnection, prefix: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const name of [...allStreamDefinitions(prefix).map((d) => d.name), `KV_${protectionKv.bucket(prefix)}`]) {
    await jsm.streams.delete(name).catch(() => undefined);
  }
}

/** Boots a guest, connects to NATS and subscribes to everything the services publish under a fresh prefix. */
export async function startRig(options: RigOptions): Promise<GuestRig> {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const image = await ensureGuestImage();
  const dir = mkdtempSync(join(tmpdir(), `rig-${options.name}-`));
  const policyPath = join(dir, 'policy.json');
  const guest = await launchGuest({
    image,
    name: options.name,
    gdb: true,
    ...(options.uffd === true ? { env: uffdShimEnv(join(dir, 'uffd.sock')) } : {}),
  });
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ servers: options.natsUrl ?? SHARED_NATS, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    const profile = await writeLiveProfile(guest, image, join(dir, 'profile.json'));
    const rig = new GuestRig(options, prefix, guest, image, nc, dir, policyPath, profile);
    rig.writePolicy(options.policy(profile));
    const sub = (subject: string, on: (data: Uint8Array) => void) => nc?.subscribe(subject, { callback: (_e, m) => on(m.data) });
    sub(`${prefix}.finding.>`, (d) => rig.arrivedFindings.push(d));
    sub(`${prefix}.agent.>`, (d) => rig.agentEvents.push(validators.agentEvent.decode(d)));
    sub(`${prefix}.trap-summary.>`, (d) => rig.summaries.push(validators.trapSummary.decode(d)));
    sub(`${prefix}.verdict.>`, (d) => rig.verdicts.push(validators.verdict.decode(d)));
    sub(`${prefix}.trap.>`, () => {
      rig.trapCount += 1;
    });
    await nc.flush();
    return rig;
  } catch (err) {
    await guest.close();
    await nc?.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Module load addresses can differ between the boot that recorded the image's profile and this one,
 * so module symbols are taken from the running guest's /proc/kallsyms, as an operator would.
 */
async function writeLiveProfile(guest: Guest, image: GuestImage, path: string): Promise<GuestProfile> {
  const out = (await guest.exec("grep '\\[' /proc/kallsyms", { timeoutMs: 60_000 })).output;
  const modules: Record<string, Record<string, string>> = {};
  for (const line of out.split('\n')) {
    const m = /^([0-9a-f]{16}) [tTdDbBrR] (\S+)\s+\[(\w+)\]/.exec(line);
    if (m === null) continue;
    const table = modules[m[3] as string] ?? {};
    modules[m[3] as string] = table;
    table[m[2] as string] ??= `0x${(m[1] as string).replace(/^0+/, '') || '0'}`;
  }
  const profile = { ...image.profile, modules };
  writeFileSync(path, JSON.stringify(profile));
  return profile;
}

/** The protection policy most tests use: dispatch tables, the two sysctl strings and one watched text function. */
export function standardPolicy(guest: string, profile: GuestProfile, overrides: Partial<ProtectionPolicy> = {}): ProtectionPolicy {
  const probe = textProbe(profile);
  return {
    version: 1,
    guest,
    mode: 'monitor',
    rules: [
      { name: 'syscall-table', severity: 'critical', target: { kind: 'table', table: 'sys_call_table' } },
      { name: 'idt', severity: 'critical', target: { kind: 'table', table: 'idt_table' } },
      {
        name: 'modprobe-path',
        severity: 'high',
        target: { kind: 'string', symbol: 'modprobe_path', length: 256, allowed: ['/sbin/modprobe'] },
      },
      { name: 'core-pattern', severity: 'high', target: { kind: 'string', symbol: 'core_pattern', length: 128, allowed: ['core'] } },
      { name: 'text-probe', severity: 'high', mechanism: 'watchpoint', target: { kind: 'symbol', symbol: probe, length: 64 } },
    ],
    ...overrides,
  };
}

/** A kernel function the test guest never runs, so patching it cannot crash the guest. */
export function textProbe(profile: GuestProfile): string {
  const name = '__x64_sys_kexec_load';
  if (profile.symbols[name] === undefined) throw new Error(`${name} is not in the profile`);
  return name;
}
