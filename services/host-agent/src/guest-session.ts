import { readFile } from 'node:fs/promises';
import {
  AgentErrors,
  type AgentEvent,
  type AgentGuestStats,
  type AgentGuestStatus,
  KernelSymbols,
  NATS_HEADERS,
  newId,
  type PolicyRule,
  type ProtectedRegion,
  type ProtectionPolicy,
  SCHEMA_VERSION,
  type Subjects,
  type TrapEvent,
  type TrapSummary,
  VmiError,
  validators,
} from '@vmi/contracts';
import { errorRecord, type Logger } from '@vmi/service-runtime';
import { agentMetrics } from './agent-metrics.js';
import { type ArmPlan, type MechanismName, planArming } from './arm-plan.js';
import { type BaselineStore, sha256Hex } from './baseline-store.js';
import { Coalescer, type WindowSummary } from './coalescer.js';
import type { AgentConfig } from './config.js';
import { Enforcer } from './enforcer.js';
import type { GuestConfig } from './guest-config.js';
import { DEFAULT_PAGE_OFFSET_BASE, hex } from './kernel-addresses.js';
import type { Outbox } from './outbox.js';
import { type LoadedPolicy, loadPolicyFile, parsePolicy, watchPolicyFile } from './policy-file.js';
import { RegionIndex } from './region-index.js';
import { type ResolvedRegion, resolvePolicy, type SymbolSource } from './resolve-policy.js';
import { traceHeaders } from './trace-headers.js';
import { trapEventsFor } from './trap-events.js';
import type { TrapHandoff } from './trap-handoff.js';
import type { ProtectionChange, RawTrap, TrapSource, TrapSourceEvents } from './trap-source.js';

/** Reads guest-physical memory through the RAM file (baselines). */
export interface GuestMemoryReader {
  read(phys: bigint, length: number): Promise<Buffer>;
  close(): void;
}

/** How the session reaches the guest; the app wires the native core in. */
export interface GuestBackends {
  /** Opens every trap backend the guest offers (gdbstub always; userfaultfd when it has a shim). */
  openSources(guest: GuestConfig, events: TrapSourceEvents, enforce: boolean): Promise<{ sources: TrapSource[]; notes: string[] }>;
  openMemory(guest: GuestConfig): Promise<GuestMemoryReader>;
}

export interface GuestSessionDeps {
  readonly guest: GuestConfig;
  readonly host: string;
  readonly config: AgentConfig;
  readonly subjects: Subjects;
  readonly outbox: Outbox;
  /** Where this host's scanners take trap events straight from the agent; null when not configured. */
  readonly handoff: TrapHandoff | null;
  readonly store: BaselineStore;
  readonly backends: GuestBackends;
  readonly logger: Logger;
}

type EventKind = AgentEvent['event'];

/**
 * One guest under protection: its live policy, the objects it resolves to, their baselines, the
 * armed traps, and every trap turned into an event. It re-attaches after QEMU or the link goes
 * away and says so, so no gap in protection goes unreported.
 */
export class GuestSession {
  private loaded: LoadedPolicy | null = null;
  private symbols: (SymbolSource & { symbols: KernelSymbols }) | null = null;
  private regions: ResolvedRegion[] = [];
  private index = new RegionIndex([]);
  private plan: ArmPlan | null = null;
  private sources: TrapSource[] = [];
  private watchIds: Array<{ source: TrapSource; id: number }> = [];
  private memory: GuestMemoryReader | null = null;
  private attached = false;
  private paused = false;
  private stopped = false;
  /** When protection was lost (link down, paused), for the gap reported when it returns. */
  private lostAt: number | null = null;
  private everAttached = false;
  private lastError: string | null = null;
  private reattachTimer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private policyWatch: { close(): void } | undefined;
  /** Serialises attach, re-arm, policy changes and detach. */
  private chain: Promise<unknown> = Promise.resolve();
  private coalescer: Coalescer<ResolvedRegion>;
  private readonly enforcer: Enforcer;
  private readonly log: Logger;
  readonly counters = { traps: 0, published: 0, suppressed: 0, summaries: 0, unrelated: 0, rearms: 0, policyRejected: 0 };
  private readonly metrics = agentMetrics();

  constructor(private readonly deps: GuestSessionDeps) {
    this.log = deps.logger.child({ guest: deps.guest.name });
    this.coalescer = this.newCoalescer(null);
    this.enforcer = new Enforcer({
      timeoutMs: deps.config.verdictTimeoutMs,
      onTimeout: (held) => {
        this.log.warn({ trap: held.trapId }, 'no verdict in time; the held write was released (fail open)');
        // Enforcement lapsed for this write: say so where gaps in protection are reported.
        void this.publishAgent('protection-lost', {
          reason: `no verdict for trap ${held.trapId} within ${deps.config.verdictTimeoutMs} ms; the write was let through (fail open)`,
          error: new VmiError(AgentErrors.VERDICT_TIMEOUT, held.trapId),
        });
      },
      onReleased: (held, verdict) =>
        this.log.info({ trap: held.trapId, verdict: verdict.verdict, restored: verdict.restore }, 'held write released'),
      onError: (held, err) => this.log.error({ trap: held.trapId, err }, 'release failed'),
    });
  }

  get name(): string {
    return this.deps.guest.name;
  }

  /** Loads the profile and policy, starts watching the policy file and attaches (retrying until it can). */
  async start(): Promise<void> {
    await this.serial(async () => {
      this.symbols = await this.loadSymbols();
      try {
        this.loaded = await loadPolicyFile(this.deps.guest.policy, this.name);
      } catch (err) {
        await this.rejectPolicy(err);
      }
    });
    this.policyWatch = watchPolicyFile(this.deps.guest.policy, () => void this.reloadPolicy());
    this.heartbeat = setInterval(() => void this.writeGuestRecord().catch(() => undefined), this.deps.config.heartbeatMs);
    this.heartbeat.unref();
    await this.serial(() => this.attach());
  }

  private async loadSymbols(): Promise<SymbolSource & { symbols: KernelSymbols }> {
    const symbols = KernelSymbols.parse(await readFile(this.deps.guest.profile, 'utf8'));
    return {
      symbols,
      layout: { physBase: symbols.physBase ?? 0n, pageOffsetBase: symbols.pageOffsetBase ?? DEFAULT_PAGE_OFFSET_BASE },
      syscallCount: symbols.syscallCount,
      address: (name) => symbols.address(name),
      nextAbove: (a) => symbols.nextAbove(a),
    };
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private newCoalescer(policy: ProtectionPolicy | null): Coalescer<ResolvedRegion> {
    return new Coalescer<ResolvedRegion>({
      burst: policy?.coalesce?.burst ?? this.deps.config.coalesceBurst,
      windowMs: policy?.coalesce?.window_ms ?? this.deps.config.coalesceWindowMs,
      onSummary: (s) => this.publishSummary(s),
    });
  }

  // ---- attach / detach -------------------------------------------------------------------------

  private async attach(): Promise<void> {
    if (this.stopped || this.attached) return;
    const previous = await this.deps.store.getGuest(this.name).catch(() => null);
    try {
      const { sources, notes } = await this.deps.backends.openSources(this.deps.guest, this.sourceEvents(), this.enforcing());
      this.sources = sources;
      this.memory = await this.deps.backends.openMemory(this.deps.guest);
      this.attached = true;
      const armNotes = await this.arm();
      this.lastError = null;
      const reason = [...notes, ...armNotes].join('; ') || null;
      await this.writeGuestRecord();
      if (this.lostAt !== null) {
        const gap = (Date.now() - this.lostAt) / 1000;
        this.lostAt = null;
        this.counters.rearms += 1;
        await this.publishAgent('rearmed', { reason: reason ?? 're-attached after the link to the guest was lost', gap });
      } else if (!this.everAttached && previous !== null) {
        // A previous agent protected this guest: protection lapsed from its last heartbeat until now.
        const gap = Math.max(0, (Date.now() - Date.parse(previous.updated)) / 1000);
        this.counters.rearms += 1;
        await this.publishAgent('rearmed', { reason: reason ?? 'agent restarted; protection re-armed', gap });
      } else {
        await this.publishAgent('attached', { reason });
      }
      this.everAttached = true;
      this.log.info({ regions: this.regions.length, watches: this.watchIds.length }, 'guest protected');
    } catch (err) {
      this.lastError = errorRecord(err).message;
      await this.closeSources();
      this.attached = false;
      if (this.lostAt === null) {
        this.lostAt = Date.now();
        await this.publishAgent('protection-lost', { reason: `cannot attach: ${this.lastError}`, error: err });
      }
      this.log.warn({ err: this.lastError }, 'attach failed; retrying');
      this.scheduleReattach();
    }
  }

  private scheduleReattach(): void {
    if (this.stopped || this.reattachTimer !== undefined) return;
    this.reattachTimer = setTimeout(() => {
      this.reattachTimer = undefined;
      void this.serial(() => this.attach());
    }, this.deps.config.reattachMs);
  }

  private async closeSources(): Promise<void> {
    this.watchIds = [];
    const sources = this.sources;
    this.sources = [];
    await Promise.allSettled(sources.map((s) => s.close()));
    this.memory?.close();
    this.memory = null;
  }

  private sourceEvents(): TrapSourceEvents {
    return {
      onTraps: (traps) => this.onTraps(traps),
      onProtection: (change) => void this.onProtection(change),
      onClosed: (reason) => void this.serial(() => this.onLinkLost(reason)),
    };
  }

  private async onLinkLost(reason: string): Promise<void> {
    if (!this.attached || this.stopped) return;
    this.attached = false;
    this.lostAt = Date.now();
    this.coalescer.flush();
    await this.enforcer.releaseAll();
    await this.closeSources();
    await this.publishAgent('protection-lost', { reason: `link to the guest lost: ${reason}` });
    this.scheduleReattach();
  }

  private async onProtection(change: ProtectionChange): Promise<void> {
    if (change.lost) {
      await this.publishAgent('protection-lost', { reason: `${change.mechanism}: ${change.detail}` });
    } else {
      await this.publishAgent('protection-restored', { reason: `${change.mechanism}: ${change.detail}` });
    }
  }

  // ---- arming ----------------------------------------------------------------------------------

  private enforcing(): boolean {
    return this.loaded?.policy.mode === 'enforce' || (this.loaded?.policy.rules.some((r) => r.mode === 'enforce') ?? false);
  }

  /** Resolves the live policy, takes missing baselines and arms every watch; returns notes for operators. */
  private async arm(): Promise<string[]> {
    const symbols = this.symbols;
    if (this.loaded === null || symbols === null || this.memory === null) return this.loaded === null ? ['no valid policy yet'] : [];
    const regions = resolvePolicy(this.loaded.policy, symbols);
    const plan = planArming(regions, {
      uffd: this.sources.some((s) => s.mechanism === 'uffd-wp'),
      watchpointBudget: this.deps.config.watchpointBudget,
    });
    await this.takeBaselines(regions, plan);
    this.regions = regions;
    this.index = new RegionIndex(regions);
    this.plan = plan;
    if (!this.paused) await this.armWatches(plan);
    return [...plan.notes];
  }

  // Every watch is asked for at once: the engine applies what arrives together in one stop of the
  // guest (and one watchpoint sync per page), where one at a time costs a stop each.
  private async armWatches(plan: ArmPlan): Promise<void> {
    const settled = await Promise.allSettled(
      plan.watches.flatMap((w) => {
        const mechanism: MechanismName = w.backend === 'gdbstub' ? 'watchpoint' : 'uffd-wp';
        const source = this.sources.find((s) => s.mechanism === mechanism);
        return source === undefined ? [] : [source.watch({ virt: w.virt, phys: w.phys, length: w.length }).then((id) => ({ source, id }))];
      }),
    );
    // Every watch that took is kept (disarm lets it go); the first refusal is the error.
    const failure = settled.find((r) => r.status === 'rejected');
    for (const r of settled) if (r.status === 'fulfilled') this.watchIds.push(r.value);
    if (failure !== undefined) throw failure.reason;
  }

  private async disarm(): Promise<void> {
    const ids = this.watchIds;
    this.watchIds = [];
    await Promise.all(ids.map(({ source, id }) => source.unwatch(id).catch((err: unknown) => this.log.warn({ err }, 'unwatch failed'))));
  }

  private async takeBaselines(regions: readonly ResolvedRegion[], plan: ArmPlan): Promise<void> {
    const memory = this.memory;
    if (memory === null) return;
    const now = new Date().toISOString();
    for (const r of regions) {
      const existing = await this.deps.store.getBaseline(this.name, r.object);
      // A stored baseline of the same object is kept: a change made while nobody watched must
      // still differ from it (the sweep and scans find it).
      const keep = existing !== null && existing.physical === hex(r.physical) && existing.length === r.length;
      const bytes = keep ? Buffer.from(existing.bytes_base64, 'base64') : await memory.read(r.physical, r.length);
      await this.deps.store.putBaseline({
        guest: this.name,
        rule: r.rule,
        object: r.object,
        severity: r.severity,
        mode: r.mode,
        check: r.check,
        virtual: r.virtual === null ? null : hex(r.virtual),
        physical: hex(r.physical),
        length: r.length,
        mechanisms: [...(plan.mechanisms.get(r.object) ?? [])],
        sha256: keep ? existing.sha256 : sha256Hex(bytes),
        bytes_base64: bytes.toString('base64'),
        allow_values: [...r.allowValues],
        allow_writers: [...r.allowWriters],
        taken: keep ? existing.taken : now,
      });
    }
    await this.deps.store.prune(this.name, new Set(regions.map((r) => r.object)));
  }

  private async writeGuestRecord(): Promise<void> {
    if (!this.attached) return;
    const table = this.sources.find((s) => s.generationTable !== null)?.generationTable ?? null;
    await this.deps.store.putGuest({
      guest: this.name,
      host: this.deps.host,
      ram_file: this.deps.guest.ramFile,
      profile_file: this.deps.guest.profile,
      generation_table: table,
      mode: this.loaded?.policy.mode ?? 'monitor',
      updated: new Date().toISOString(),
    });
  }

  // ---- policy changes --------------------------------------------------------------------------

  private async reloadPolicy(): Promise<void> {
    await this.serial(async () => {
      let next: LoadedPolicy;
      try {
        next = await loadPolicyFile(this.deps.guest.policy, this.name);
      } catch (err) {
        await this.rejectPolicy(err);
        return;
      }
      if (next.sha256 === this.loaded?.sha256) return;
      await this.applyPolicy(next);
    });
  }

  /** Swaps in a new policy; when it cannot be armed, the previous one is armed again. */
  private async applyPolicy(next: LoadedPolicy): Promise<void> {
    if (this.symbols !== null) {
      try {
        resolvePolicy(next.policy, this.symbols);
      } catch (err) {
        await this.rejectPolicy(err);
        return;
      }
    }
    const previous = this.loaded;
    this.coalescer.flush();
    this.coalescer = this.newCoalescer(next.policy);
    if (!this.attached) {
      this.loaded = next;
      await this.publishAgent('policy-applied', { reason: 'applied; arming when the guest is reachable' });
      return;
    }
    await this.disarm();
    this.loaded = next;
    try {
      const notes = await this.arm();
      await this.writeGuestRecord();
      await this.publishAgent('policy-applied', { reason: notes.join('; ') || null });
    } catch (err) {
      this.loaded = previous;
      await this.disarm();
      await this.arm().catch(() => undefined);
      await this.rejectPolicy(err);
    }
  }

  private async rejectPolicy(err: unknown): Promise<void> {
    this.counters.policyRejected += 1;
    const record = errorRecord(err);
    this.log.warn({ code: record.code, path: record.path, reason: record.message }, 'policy refused; keeping the last good one');
    await this.publishAgent('policy-rejected', { reason: record.message, error: err });
  }

  /** Adds or replaces one rule of the live policy (control service). */
  async protect(rule: PolicyRule): Promise<ProtectedRegion[]> {
    return this.serial(async () => {
      const base: ProtectionPolicy = this.loaded?.policy ?? { version: 1, guest: this.name, mode: 'monitor', rules: [] };
      const rules = [...base.rules.filter((r) => r.name !== rule.name), rule];
      const next = parsePolicy(JSON.stringify({ ...base, rules }), this.name);
      await this.applyChecked(next);
      return this.protectedRegions().filter((r) => r.rule === rule.name);
    });
  }

  async unprotect(ruleName: string): Promise<ProtectedRegion[]> {
    return this.serial(async () => {
      const base = this.loaded?.policy;
      if (base === undefined || !base.rules.some((r) => r.name === ruleName)) {
        throw new VmiError(AgentErrors.RULE_UNKNOWN, ruleName);
      }
      const rules = base.rules.filter((r) => r.name !== ruleName);
      if (rules.length === 0) {
        await this.disarm();
        this.loaded = null;
        this.regions = [];
        this.index = new RegionIndex([]);
        await this.deps.store.prune(this.name, new Set());
        await this.publishAgent('policy-applied', { reason: `rule ${ruleName} removed; nothing is protected` });
        return [];
      }
      await this.applyChecked(parsePolicy(JSON.stringify({ ...base, rules }), this.name));
      return this.protectedRegions();
    });
  }

  /** Applies a policy and throws (instead of only reporting) when it was refused. */
  private async applyChecked(next: LoadedPolicy): Promise<void> {
    const before = this.counters.policyRejected;
    await this.applyPolicy(next);
    if (this.counters.policyRejected !== before) {
      throw new VmiError(AgentErrors.POLICY_INVALID, this.lastRejection ?? 'refused');
    }
  }

  private lastRejection: string | null = null;

  async pause(paused: boolean): Promise<void> {
    await this.serial(async () => {
      if (paused === this.paused) return;
      this.paused = paused;
      if (paused) {
        await this.disarm();
        this.lostAt = Date.now();
        await this.publishAgent('protection-lost', { reason: 'paused by an operator' });
      } else {
        if (this.plan !== null && this.attached) await this.armWatches(this.plan);
        const gap = this.lostAt === null ? null : (Date.now() - this.lostAt) / 1000;
        this.lostAt = null;
        await this.publishAgent('protection-restored', { reason: 'resumed by an operator', gap });
      }
    });
  }

  // ---- traps -----------------------------------------------------------------------------------

  private onTraps(traps: readonly RawTrap[]): void {
    for (const trap of traps) {
      this.counters.traps += 1;
      this.metrics.traps.add(1, { guest: this.name, mechanism: trap.mechanism });
      const touched = this.index.overlapping(trap.physical, Math.max(1, trap.newBytes.length));
      if (touched.length === 0) {
        // A physical trap sees the whole page; bytes outside every protected object are not news.
        this.counters.unrelated += 1;
        this.metrics.unrelated.add(1, { guest: this.name });
        if (trap.held) void this.releaseFor(trap, false);
        continue;
      }
      const events = trapEventsFor(trap, touched, { host: this.deps.host, guest: this.name });
      let holder: TrapEvent | null = null;
      for (const { event, region } of events) {
        const individual = this.coalescer.admit(region.object, region, event.id, trap.trappedAt);
        if (!individual) {
          this.counters.suppressed += 1;
          this.metrics.suppressed.add(1, { guest: this.name, rule: region.rule });
          continue;
        }
        // Only an enforce-mode object keeps the vCPU waiting; one verdict settles one stop.
        if (trap.held && holder === null && region.mode === 'enforce') holder = event;
        else event.held = false;
        this.publishTrap(event);
      }
      if (trap.held) {
        if (holder === null) void this.releaseFor(trap, false);
        else {
          this.enforcer.hold({ trapId: holder.id, seq: trap.seq, release: (restore) => this.releaseFor(trap, restore) });
        }
      }
    }
  }

  private async releaseFor(trap: RawTrap, restore: boolean): Promise<void> {
    const source = this.sources.find((s) => s.mechanism === trap.mechanism);
    if (source !== undefined) await source.release(trap.seq, restore);
  }

  /** Applies a scanner verdict to a held trap of this guest. */
  verdict(v: Parameters<Enforcer['verdict']>[0]): boolean {
    return this.enforcer.verdict(v);
  }

  private publishTrap(event: TrapEvent): void {
    this.counters.published += 1;
    const headers = traceHeaders('trap publish', { 'vmi.guest': this.name, 'vmi.object': event.region.object, 'vmi.trap.id': event.id });
    // Validated once for both copies. The handoff goes first: it is the detection path, and the
    // scanner's check starts while the durable publish is still being prepared.
    validators.trapEvent.parse(event);
    const handed = this.deps.handoff?.send(event, headers);
    this.deps.outbox
      .send(this.deps.subjects.trap(this.deps.host, this.name), event, {
        headers: handed === false ? { ...headers, [NATS_HEADERS.fastCopy]: 'none' } : headers,
      })
      .catch((err: unknown) => this.log.error({ err, trap: event.id }, 'trap event not published'));
  }

  private publishSummary(s: WindowSummary<ResolvedRegion>): void {
    this.counters.summaries += 1;
    const summary: TrapSummary = {
      id: newId(),
      time: new Date().toISOString(),
      version: SCHEMA_VERSION,
      type: 'trap-summary',
      host: this.deps.host,
      guest: this.name,
      region: { rule: s.region.rule, object: s.region.object, severity: s.region.severity, mode: s.region.mode },
      count: s.count,
      suppressed: s.suppressed,
      first_seen: s.firstSeen.toISOString(),
      last_seen: s.lastSeen.toISOString(),
      window_ms: s.windowMs,
      last_trap_id: s.lastTrapId,
    };
    this.deps.outbox
      .send(this.deps.subjects.trapSummary(this.deps.host, this.name), summary, { validator: validators.trapSummary })
      .catch((err: unknown) => this.log.error({ err }, 'trap summary not published'));
  }

  // ---- reporting -------------------------------------------------------------------------------

  protectedRegions(): ProtectedRegion[] {
    return this.regions.map((r) => ({
      rule: r.rule,
      object: r.object,
      severity: r.severity,
      mode: r.mode,
      virtual: r.virtual === null ? null : hex(r.virtual),
      physical: hex(r.physical),
      length: r.length,
      mechanisms: this.paused || !this.attached ? [] : [...(this.plan?.mechanisms.get(r.object) ?? [])],
      baseline_sha256: '',
    }));
  }

  private liveMechanisms(): AgentEvent['mechanisms'] {
    const live = this.attached && !this.paused;
    return {
      watchpoint: live && this.sources.some((s) => s.mechanism === 'watchpoint'),
      'uffd-wp': live && this.sources.some((s) => s.mechanism === 'uffd-wp'),
    };
  }

  private async publishAgent(
    event: EventKind,
    extra: { reason?: string | null; error?: unknown; gap?: number | null } = {},
  ): Promise<void> {
    if (event === 'policy-rejected') this.lastRejection = extra.reason ?? null;
    const withRegions = event === 'attached' || event === 'rearmed' || event === 'policy-applied' || event === 'protection-restored';
    const regions = withRegions ? await this.regionsWithBaselines() : [];
    const err = extra.error === undefined ? null : errorRecord(extra.error);
    const message: AgentEvent = {
      id: newId(),
      time: new Date().toISOString(),
      version: SCHEMA_VERSION,
      type: 'agent',
      host: this.deps.host,
      guest: this.name,
      event,
      regions,
      mechanisms: this.liveMechanisms(),
      reason: extra.reason === undefined || extra.reason === null ? null : extra.reason.slice(0, 2000),
      error: err === null ? null : { code: err.code, message: err.message, ...(err.path === null ? {} : { path: err.path }) },
      gap_s: extra.gap ?? null,
    };
    await this.deps.outbox
      .send(this.deps.subjects.agent(this.deps.host, event), message, { validator: validators.agentEvent })
      .catch((e: unknown) => this.log.error({ err: e, event }, 'agent event not published'));
  }

  private async regionsWithBaselines(): Promise<ProtectedRegion[]> {
    const out = this.protectedRegions();
    for (const r of out) {
      const b = await this.deps.store.getBaseline(this.name, r.object).catch(() => null);
      r.baseline_sha256 = b?.sha256 ?? sha256Hex(new Uint8Array(0));
    }
    return out;
  }

  status(): AgentGuestStatus {
    return {
      guest: this.name,
      attached: this.attached,
      paused: this.paused,
      mode: this.loaded?.policy.mode ?? 'monitor',
      mechanisms: this.liveMechanisms(),
      regions: this.protectedRegions().map((r) => ({ ...r, baseline_sha256: r.baseline_sha256 || sha256Hex(new Uint8Array(0)) })),
      policy_sha256: this.loaded?.sha256 ?? null,
      last_error: this.lastError,
    };
  }

  stats(): AgentGuestStats {
    return {
      guest: this.name,
      traps: this.counters.traps,
      published: this.counters.published,
      suppressed: this.counters.suppressed,
      summaries: this.counters.summaries,
      publish_retries: this.deps.outbox.counters.retries,
      outbox: this.deps.outbox.depth,
      held: this.enforcer.pending,
      released_on_timeout: this.enforcer.counters.timedOut,
      restored: this.enforcer.counters.restored,
      rearms: this.counters.rearms,
      policy_rejected: this.counters.policyRejected,
    };
  }

  /** Detaches: held vCPUs go, open storm windows are summarised, the guest keeps running unwatched. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reattachTimer !== undefined) clearTimeout(this.reattachTimer);
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.policyWatch?.close();
    await this.serial(async () => {
      // Protection held until now: the next agent measures its gap from here, not the last heartbeat.
      await this.writeGuestRecord().catch(() => undefined);
      this.coalescer.flush();
      await this.enforcer.releaseAll();
      const wasAttached = this.attached;
      this.attached = false;
      await this.closeSources();
      if (wasAttached) await this.publishAgent('detached', { reason: 'agent stopping' });
    });
  }
}
