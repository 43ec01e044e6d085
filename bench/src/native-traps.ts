/**
 * Write traps on a real guest (QEMU under software emulation), both backends. `pnpm bench:native`
 * adds these metrics to `native.json` (see `addTrapResults`).
 *
 * Guest slowdowns. Two guests are booted: a plain one and one whose QEMU carries the userfaultfd
 * shim. Only one guest runs at a time: the other is paused (QMP `stop`, its clock stops too), so
 * they never compete for the CPUs. The guest workload (CPU work, system calls, fork/exec; a few
 * hundred milliseconds, so timer ticks are small beside it) runs in these conditions:
 *   plain       the plain guest, no trap engine attached
 *   uffd        the shimmed guest with the default physical-trap policy armed: sys_call_table,
 *               the IDT and the whole kernel text write-protected
 *   shim_idle   the shimmed guest with its engine attached and nothing protected
 *
 * Cold watchpoints are measured on the plain guest alone, with one gdbstub engine attached for the
 * whole block as an agent keeps one: short workload segments (-n 10, ~40 ms)
 * alternate between 256 watched 8-byte sys_call_table entries (never written; armed together
 * before the segment, disarmed after it) and none, in ABBA/BABA quartets. A segment's time moves
 * by ~10% from one to the next with nothing changed, mostly in slow drifts and rare spikes of
 * this shared machine; short segments keep both sides of a quartet within the same drift, and
 * the figure is the median of every quartet's ratio over all runs (robust to the spikes), with a
 * bootstrap 95% interval beside it.
 * The shimmed guest keeps one userfaultfd engine for the whole benchmark, as an agent does: an
 * engine that attaches and lets go changes the protection of the whole RAM mapping (registration,
 * and un-protecting all of it on release), and the workload right after one cost QEMU a few
 * hundred minor page faults instead of a few dozen: an artefact of attaching, not of protection.
 * The speed of this shared machine drifts by tens of percent over seconds, so each condition is
 * compared with plain in a tight quartet (A B B A, or B A A B in every other run): a slowdown is
 * the ratio of the two workload sums of one quartet, and the reported figure is the median over
 * runs of those paired ratios. The workload's own guest-clock time is the measure; the CPU time
 * QEMU's threads used for it (schedstat) is reported beside it.
 *
 * Trap costs, in every third run:
 * - trap_roundtrip_us: a guest burst of 1,000 watched 8-byte stores; each sample is the time from
 *   one trapped store's stop to the next one's, i.e. everything the gdbstub backend does per trap
 *   (stop reply, rip/cr3 reads, shadow diff, generation bump, queueing) before the vCPU runs on.
 * - qemu_stop_cont_us: the same burst under a bare RSP client that answers each stop with `c`
 *   and nothing else: the floor for a trap on this machine.
 * - trap_to_js_us: from the stop reply's arrival to the event object reaching JavaScript.
 * - uffd_trap_blocked_us: how long a guest store to a physically protected page takes, timed in
 *   the guest by the attack module (its clock read right before and after one store, interrupts
 *   off): the fault, the engine's answer and the kernel's wake-ups, all of it. Stores are a few
 *   milliseconds apart so the engine has protected the page again before the next one.
 *   uffd_store_unprotected_us is the same store to the same page with nothing armed: the clock's
 *   own cost. uffd_fault_held_us is the engine's side only (fault read to un-protect returned).
 * - uffd_arm_us: protect() of one page, from JavaScript to the armed page and back.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { attackCommands, type Guest, imageVirtToPhys, launchGuest, readAttackStatus, readStoreTimes, symbolAddress } from '@vmi/guest';
import { openTrapEngine, type TrapEngine, type TrapEvent, uffdShimEnv } from '@vmi/native-core';
import { type BenchResult, nowMs, RESULTS_DIR, type RunMetrics, runBench, summaryLine } from './harness.js';
import { median } from './stats.js';

const RUNS = Number(process.env.BENCH_TRAP_RUNS ?? 40);
/** The trap-cost measurements (bursts, timed stores) run in every third run. */
const TRAP_COSTS_EVERY = 3;
const WORKLOAD_ROUNDS = Number(process.env.BENCH_WORKLOAD_ROUNDS ?? 50);
const BURST = 1000;
const COLD_WATCHES = 256;
const COLD_SEGMENT_ROUNDS = 10;
const COLD_QUARTETS_PER_RUN = Number(process.env.BENCH_COLD_QUARTETS ?? 6);
const BOOTSTRAP_RESAMPLES = 2000;
const UFFD_STORES = Number(process.env.BENCH_UFFD_STORES ?? 100);
const UFFD_STORE_GAP_US = 3000;
const ARMS = 20;

const COMPARED = ['uffd', 'shim_idle'] as const;
type Compared = (typeof COMPARED)[number];
type Condition = 'plain' | Compared;

interface Target {
  virt: bigint;
  phys: bigint;
}

interface State {
  dir: string;
  plain: Guest;
  shimmed: Guest;
  socketPath: string;
  plainBurst: Target;
  shimBurst: Target;
  /** One userfaultfd engine on the shimmed guest for the whole benchmark, as an agent keeps one. */
  uffd: TrapEngine;
  uffdEvents: TrapEvent[];
  /** The guest that is running now; the other one is paused. */
  active: Guest | undefined;
}

async function burstTarget(guest: Guest): Promise<Target> {
  const status = await readAttackStatus(guest);
  return { virt: status.burstTarget, phys: status.burstTargetPhys };
}

/** Lets `guest` run and pauses the other one. */
async function activate(state: State, guest: Guest): Promise<void> {
  if (state.active === guest) return;
  const other = guest === state.plain ? state.shimmed : state.plain;
  await other.pause();
  if (state.active !== undefined) await guest.resume();
  state.active = guest;
}

/** CPU time of every thread of a process, in nanoseconds (schedstat: no tick rounding). */
function processCpuNs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // A thread that ended between the listing and the read used no more CPU.
    }
  }
  return total;
}

interface WorkloadTime {
  guestUs: number;
  qemuCpuUs: number;
}

async function workload(guest: Guest, rounds = WORKLOAD_ROUNDS): Promise<WorkloadTime> {
  const cpu0 = processCpuNs(guest.pid);
  const result = await guest.exec(`workload -n ${rounds}`, { timeoutMs: 600_000 });
  const qemuCpuUs = (processCpuNs(guest.pid) - cpu0) / 1000;
  const us = /elapsed_us=(\d+)/.exec(result.output)?.[1];
  if (us === undefined || result.exitCode !== 0) throw new Error(`workload failed: ${result.output}`);
  return { guestUs: Number(us), qemuCpuUs };
}

function gaps(times: readonly bigint[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < times.length; i++) out.push(Number((times[i] as bigint) - (times[i - 1] as bigint)) / 1000);
  return out;
}

function gdbPort(guest: Guest): number {
  const port = guest.gdbAddress?.port;
  if (port === undefined) throw new Error('guest has no gdbstub');
  return port;
}

function openGdb(guest: Guest, events: TrapEvent[] = []): Promise<TrapEngine> {
  return openTrapEngine({
    backend: 'gdbstub',
    ramPath: guest.ramPath,
    gdbstub: { port: gdbPort(guest) },
    queueCapacity: 4096,
    onEvents: (batch) => events.push(...batch),
  });
}

function openUffd(guest: Guest, socketPath: string, events: TrapEvent[]): Promise<TrapEngine> {
  return openTrapEngine({ backend: 'uffd', ramPath: guest.ramPath, uffd: { socketPath }, onEvents: (batch) => events.push(...batch) });
}

/** The default physical-trap policy: the objects a healthy kernel rarely writes. */
async function protectDefaultPolicy(engine: TrapEngine, guest: Guest): Promise<void> {
  const q = guest.profile;
  const stext = symbolAddress(q, '_stext');
  const etext = symbolAddress(q, '_etext');
  await engine.protect({ tag: 'sys_call_table', phys: imageVirtToPhys(q, symbolAddress(q, 'sys_call_table')), length: 8 * 451 });
  await engine.protect({ tag: 'idt_table', phys: imageVirtToPhys(q, symbolAddress(q, 'idt_table')), length: 4096 });
  await engine.protect({ tag: 'kernel_text', phys: imageVirtToPhys(q, stext), length: Number(etext - stext) });
}

async function unprotectDefaultPolicy(engine: TrapEngine): Promise<void> {
  for (const tag of ['sys_call_table', 'idt_table', 'kernel_text']) await engine.unprotect(tag);
}

interface ConditionResult extends WorkloadTime {
  /** Traps taken while the workload ran: zero means a slowdown is not the traps' doing. */
  traps: number;
}

async function measureCondition(state: State, condition: Condition): Promise<ConditionResult> {
  const { plain, shimmed } = state;
  switch (condition) {
    case 'plain':
      await activate(state, plain);
      return { ...(await workload(plain)), traps: 0 };
    case 'shim_idle':
      await activate(state, shimmed);
      return { ...(await workload(shimmed)), traps: 0 };
    case 'uffd': {
      await activate(state, shimmed);
      const { uffd } = state;
      await protectDefaultPolicy(uffd, shimmed);
      try {
        const before = uffd.counters().stops;
        const time = await workload(shimmed);
        return { ...time, traps: uffd.counters().stops - before };
      } finally {
        await unprotectDefaultPolicy(uffd);
      }
    }
  }
}

interface ColdWatchQuartets {
  /** Each quartet's slowdown of the watched segments against the unwatched ones, %. */
  guest: number[];
  /** The same from QEMU's CPU time. */
  cpu: number[];
  watchedUs: number;
  plainUs: number;
  /** Trap events while watched segments ran: zero means a slowdown is not the traps' doing. */
  traps: number;
}

/** 256 cold watchpoints against none on the plain guest, one engine attached throughout. */
async function coldWatchQuartets(state: State, run: number): Promise<ColdWatchQuartets> {
  const { plain } = state;
  await activate(state, plain);
  const sct = symbolAddress(plain.profile, 'sys_call_table');
  const targets = Array.from({ length: COLD_WATCHES }, (_, i) => {
    const virt = sct + BigInt(8 * i);
    return { tag: `sct-${i}`, virt, phys: imageVirtToPhys(plain.profile, virt), length: 8, aliases: 'none' as const };
  });
  const gdb = await openGdb(plain);
  try {
    const segment = async (watched: boolean): Promise<WorkloadTime> => {
      // Asked for at once, the watches are armed in one stop of the guest (and disarmed in one).
      if (watched) await Promise.all(targets.map((t) => gdb.protect(t)));
      try {
        return await workload(plain, COLD_SEGMENT_ROUNDS);
      } finally {
        if (watched) await Promise.all(targets.map((t) => gdb.unprotect(t.tag)));
      }
    };
    // Attaching stopped the guest once: let that settle outside the measurement.
    await segment(false);
    const before = gdb.counters().queued;
    const out: ColdWatchQuartets = { guest: [], cpu: [], watchedUs: 0, plainUs: 0, traps: 0 };
    for (let q = 0; q < COLD_QUARTETS_PER_RUN; q++) {
      const watchedFirst = (run * COLD_QUARTETS_PER_RUN + q) % 2 === 1;
      const order = watchedFirst ? [true, false, false, true] : [false, true, true, false];
      const watched: WorkloadTime[] = [];
      const unwatched: WorkloadTime[] = [];
      for (const w of order) (w ? watched : unwatched).push(await segment(w));
      const sum = (rs: readonly WorkloadTime[], key: keyof WorkloadTime) => rs.reduce((a, r) => a + r[key], 0);
      out.guest.push(pct(sum(watched, 'guestUs'), sum(unwatched, 'guestUs')));
      out.cpu.push(pct(sum(watched, 'qemuCpuUs'), sum(unwatched, 'qemuCpuUs')));
      out.watchedUs += sum(watched, 'guestUs') / (2 * COLD_QUARTETS_PER_RUN);
      out.plainUs += sum(unwatched, 'guestUs') / (2 * COLD_QUARTETS_PER_RUN);
    }
    out.traps = gdb.counters().queued - before;
    return out;
  } finally {
    await gdb.close();
  }
}

/** A 95% interval for the median of `values`, by resampling them with replacement. */
function bootstrapMedianInterval(values: readonly number[]): [number, number] {
  if (values.length === 0) return [Number.NaN, Number.NaN];
  const medians: number[] = [];
  for (let b = 0; b < BOOTSTRAP_RESAMPLES; b++) {
    medians.push(median(Array.from({ length: values.length }, () => values[Math.floor(Math.random() * values.length)] as number)));
  }
  medians.sort((a, b) => a - b);
  return [medians[Math.floor(0.025 * BOOTSTRAP_RESAMPLES)] as number, medians[Math.floor(0.975 * BOOTSTRAP_RESAMPLES)] as number];
}

/** A bare RSP client: watch one address, answer every stop with `c`, record stop arrivals. */
async function bareStopContinue(guest: Guest, virt: bigint, stores: number): Promise<number[]> {
  const sock = net.connect(gdbPort(guest), '127.0.0.1');
  sock.setNoDelay(true);
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  const packet = (body: string) => {
    let sum = 0;
    for (const ch of Buffer.from(body)) sum = (sum + ch) & 0xff;
    return `$${body}#${sum.toString(16).padStart(2, '0')}`;
  };
  let buf = '';
  const waiters: { stop: boolean; resolve: (p: string) => void }[] = [];
  const stops: bigint[] = [];
  let counting = false;
  sock.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    for (;;) {
      const start = buf.indexOf('$');
      const end = buf.indexOf('#', start);
      if (start < 0 || end < 0 || buf.length < end + 3) break;
      const body = buf.slice(start + 1, end);
      buf = buf.slice(end + 3);
      if (counting && body.startsWith('T05') && body.includes('watch:')) {
        stops.push(process.hrtime.bigint());
        sock.write(`+${packet('c')}`);
        continue;
      }
      sock.write('+');
      // Connecting stops the guest and may bring an unsolicited stop reply: only `?` wants one.
      const isStop = /^[ST][0-9a-f]{2}/.test(body);
      if (isStop !== (waiters[0]?.stop ?? false)) continue;
      waiters.shift()?.resolve(body);
    }
  });
  const request = (body: string) =>
    new Promise<string>((resolve) => {
      waiters.push({ stop: body === '?', resolve });
      sock.write(packet(body));
    });
  try {
    await request('qSupported');
    await request('?');
    if ((await request(`Z2,${virt.toString(16)},8`)) !== 'OK') throw new Error('Z2 refused');
    counting = true;
    sock.write(packet('c'));
    await guest.exec(attackCommands.burst(virt, stores), { timeoutMs: 120_000 });
    counting = false;
    sock.write('\x03');
    await new Promise((r) => setTimeout(r, 100));
    await request('D;1');
  } finally {
    sock.destroy();
  }
  return gaps(stops);
}

/** gdbstub: the engine's per-trap cost over a burst, and the bare stop+continue floor. */
async function gdbTrapCosts(state: State): Promise<RunMetrics> {
  const { plain, plainBurst } = state;
  await activate(state, plain);
  const events: TrapEvent[] = [];
  const gdb = await openGdb(plain, events);
  let roundtrip: number[];
  let toJs: number[];
  try {
    await gdb.protect({ tag: 'burst', virt: plainBurst.virt, phys: plainBurst.phys, length: 8, aliases: 'none' });
    await plain.exec(attackCommands.burst(plainBurst.virt, BURST), { timeoutMs: 120_000 });
    const deadline = Date.now() + 30_000;
    while (events.length < BURST && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (events.length !== BURST) throw new Error(`expected ${BURST} events, got ${events.length}`);
    roundtrip = gaps(events.map((e) => e.stopNs));
    toJs = events.map((e) => Number(e.deliverNs - e.stopNs) / 1000);
  } finally {
    await gdb.close();
  }
  const floor = await bareStopContinue(plain, plainBurst.virt, BURST);
  return { trap_roundtrip_us: roundtrip, qemu_stop_cont_us: floor, trap_to_js_us: toJs };
}

/** Guest-timed stores to the burst page, `UFFD_STORE_GAP_US` apart; microseconds each. */
async function timedStores(guest: Guest, target: Target): Promise<number[]> {
  const result = await guest.exec(attackCommands.timeStores(target.virt, UFFD_STORES, UFFD_STORE_GAP_US), { timeoutMs: 120_000 });
  if (result.exitCode !== 0) throw new Error(`time-stores failed: ${result.output}`);
  return (await readStoreTimes(guest)).map((ns) => ns / 1000);
}

/** uffd: arming a page, and how long a guest store to a protected page is held, timed in the guest. */
async function uffdTrapCosts(state: State): Promise<RunMetrics> {
  const { shimmed, shimBurst, uffd, uffdEvents: events } = state;
  await activate(state, shimmed);
  events.length = 0;
  try {
    const arm: number[] = [];
    for (let i = 0; i < ARMS; i++) {
      const t0 = nowMs();
      await uffd.protect({ tag: 'arm', phys: shimBurst.phys, length: 8 });
      arm.push((nowMs() - t0) * 1000);
      await uffd.unprotect('arm');
    }
    const unprotected = await timedStores(shimmed, shimBurst);
    await uffd.protect({ tag: 'burst', phys: shimBurst.phys, length: 8 });
    const before = uffd.counters().stops;
    let blocked = await timedStores(shimmed, shimBurst);
    const faults = uffd.counters().stops - before;
    // A store that found the page still open (the engine had not protected it again yet) did not
    // trap and is among the fastest: leave out as many of the fastest as stores went untrapped.
    const untrapped = Math.max(0, UFFD_STORES - faults);
    if (untrapped > UFFD_STORES / 10) throw new Error(`only ${faults} of ${UFFD_STORES} timed stores trapped`);
    blocked = [...blocked].sort((a, b) => a - b).slice(untrapped);
    await new Promise((r) => setTimeout(r, 200));
    const held = events.filter((e) => e.kind === 'write' && e.resumeNs !== null).map((e) => Number((e.resumeNs ?? 0n) - e.stopNs) / 1000);
    return {
      uffd_arm_us: arm,
      uffd_trap_blocked_us: blocked,
      uffd_store_unprotected_us: unprotected,
      uffd_fault_held_us: held,
      uffd_untrapped_stores: untrapped,
    };
  } finally {
    await uffd.unprotect('burst').catch(() => undefined);
  }
}

const pct = (a: number, b: number) => ((a - b) / b) * 100;

function runTrapBench(resultsDir: string): Promise<BenchResult> {
  // Every measured run's cold-watch quartet ratios, for the interval of their median.
  const coldQuartets: number[] = [];
  return runBench<State>({
    name: 'native-traps',
    description:
      `guest workload -n ${WORKLOAD_ROUNDS} in ABBA/BABA quartets against the plain guest per run (` +
      'uffd default policy: sys_call_table+IDT+kernel text; shim with its engine attached, nothing armed), one guest running at a time (the other paused); ' +
      `slowdowns = median over runs of the quartets' ratios; ${COLD_WATCHES} cold watchpoints vs none: ${COLD_QUARTETS_PER_RUN} ABBA/BABA quartets of ` +
      `workload -n ${COLD_SEGMENT_ROUNDS} segments per run on the plain guest with one engine attached, watches armed together before a watched segment ` +
      `and disarmed after it, slowdown = median of all quartets' ratios (bootstrap 95% interval beside it); once every ${TRAP_COSTS_EVERY} runs, gdbstub: ${BURST} trapped stores (stop-to-stop) with the trap engine vs a bare ` +
      `stop+continue client; uffd: ${UFFD_STORES} single stores to a protected page timed in the guest, ${UFFD_STORE_GAP_US} µs apart, ` +
      `beside the same stores unprotected; arming one page`,
    runs: RUNS,
    // One warm-up run: the first workload on a fresh guest pays for translating its code.
    warmup: 1,
    units: {
      trap_roundtrip_us: 'µs',
      qemu_stop_cont_us: 'µs',
      trap_to_js_us: 'µs',
      uffd_trap_blocked_us: 'µs',
      uffd_store_unprotected_us: 'µs',
      uffd_fault_held_us: 'µs',
      uffd_arm_us: 'µs',
      uffd_untrapped_stores: 'stores',
      workload_us: 'µs',
      workload_cold_watch_segment_us: 'µs',
      workload_cold_watch_plain_segment_us: 'µs',
      workload_shim_idle_us: 'µs',
      workload_uffd_us: 'µs',
      workload_qemu_cpu_us: 'µs',
      workload_shim_idle_qemu_cpu_us: 'µs',
      workload_uffd_qemu_cpu_us: 'µs',
      workload_cold_watch_traps: 'traps',
      workload_uffd_traps: 'traps',
      guest_slowdown_pct_cold_watch: '%',
      guest_slowdown_pct_cold_watch_ci95_low: '%',
      guest_slowdown_pct_cold_watch_ci95_high: '%',
      cold_watch_quartet_slowdown_pct: '%',
      cold_watch_quartet_qemu_cpu_slowdown_pct: '%',
      cold_watch_run_slowdown_pct: '%',
      guest_slowdown_pct_uffd_default_policy: '%',
      guest_slowdown_pct_shim_idle: '%',
      guest_slowdown_pct_uffd_vs_shim_idle: '%',
      qemu_cpu_slowdown_pct_cold_watch: '%',
      qemu_cpu_slowdown_pct_uffd_default_policy: '%',
      qemu_cpu_slowdown_pct_shim_idle: '%',
      trap_roundtrip_vs_floor: 'ratio',
    },
    targets: [
      { name: 'trap round trip p50 within 2x of the bare stop+continue floor', expression: 'trap_roundtrip_vs_floor <= 2' },
      { name: 'cold-watch slowdown under 1%', expression: 'guest_slowdown_pct_cold_watch < 1' },
      { name: 'uffd blocked p50 under 100 µs (timed in the guest)', expression: 'uffd_trap_blocked_us_p50 < 100' },
      { name: 'uffd default-policy slowdown under 1%', expression: 'guest_slowdown_pct_uffd_default_policy < 1' },
    ],
    setup: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'vmi-bench-traps-'));
      const socketPath = join(dir, 'uffd.sock');
      // Booted one after the other, so neither boot competes with the other.
      const plain = await launchGuest({ name: 'bench-plain' });
      const plainBurst = await burstTarget(plain);
      await plain.pause();
      const shimmed = await launchGuest({ name: 'bench-shim', env: uffdShimEnv(socketPath) });
      const shimBurst = await burstTarget(shimmed);
      const uffdEvents: TrapEvent[] = [];
      const uffd = await openUffd(shimmed, socketPath, uffdEvents);
      return { dir, plain, shimmed, socketPath, plainBurst, shimBurst, uffd, uffdEvents, active: shimmed };
    },
    teardown: async ({ dir, plain, shimmed, uffd }) => {
      await uffd.close();
      await plain.close();
      await shimmed.close();
      rmSync(dir, { recursive: true, force: true });
    },
    run: async ({ run, state }) => {
      const metrics: RunMetrics = {};
      const plain: ConditionResult[] = [];
      const slowdown: Partial<Record<Compared, { guest: number; cpu: number }>> = {};
      // One quartet per compared condition, in a rotating order; each quartet is A B B A or B A A B
      // (alternating from run to run), so a drift that is linear over the quartet weighs on both
      // sides alike and neither side always comes first after a switch of guests or engines.
      const first = ((run % COMPARED.length) + COMPARED.length) % COMPARED.length;
      for (let i = 0; i < COMPARED.length; i++) {
        const condition = COMPARED[(first + i) % COMPARED.length] as Compared;
        const sequence: Condition[] = run % 2 === 0 ? ['plain', condition, condition, 'plain'] : [condition, 'plain', 'plain', condition];
        const base: ConditionResult[] = [];
        const test: ConditionResult[] = [];
        for (const c of sequence) (c === 'plain' ? base : test).push(await measureCondition(state, c));
        plain.push(...base);
        const sum = (rs: readonly ConditionResult[], key: 'guestUs' | 'qemuCpuUs') => rs.reduce((a, r) => a + r[key], 0);
        slowdown[condition] = {
          guest: pct(sum(test, 'guestUs'), sum(base, 'guestUs')),
          cpu: pct(sum(test, 'qemuCpuUs'), sum(base, 'qemuCpuUs')),
        };
        metrics[`workload_${condition}_us`] = sum(test, 'guestUs') / test.length;
        metrics[`workload_${condition}_qemu_cpu_us`] = sum(test, 'qemuCpuUs') / test.length;
        if (condition !== 'shim_idle') metrics[`workload_${condition}_traps`] = test.reduce((a, r) => a + r.traps, 0);
      }
      const get = (c: Compared) => {
        const r = slowdown[c];
        if (r === undefined) throw new Error(`no result for ${c}`);
        return r;
      };
      const cold = await coldWatchQuartets(state, run);
      if (run >= 0) coldQuartets.push(...cold.guest);
      const uffd = get('uffd');
      const idle = get('shim_idle');
      return {
        ...metrics,
        // Pooled over runs: the median of these is the cold-watch slowdown (see derive).
        cold_watch_quartet_slowdown_pct: cold.guest,
        cold_watch_quartet_qemu_cpu_slowdown_pct: cold.cpu,
        cold_watch_run_slowdown_pct: median(cold.guest),
        workload_cold_watch_segment_us: cold.watchedUs,
        workload_cold_watch_plain_segment_us: cold.plainUs,
        workload_cold_watch_traps: cold.traps,
        ...(run % TRAP_COSTS_EVERY === 0 ? { ...(await gdbTrapCosts(state)), ...(await uffdTrapCosts(state)) } : {}),
        workload_us: plain.reduce((a, r) => a + r.guestUs, 0) / plain.length,
        workload_qemu_cpu_us: plain.reduce((a, r) => a + r.qemuCpuUs, 0) / plain.length,
        // Against the guest without the shim, as the target asks; shim_idle shows how much of a
        // difference is the two guests differing rather than protection.
        guest_slowdown_pct_uffd_default_policy: uffd.guest,
        guest_slowdown_pct_shim_idle: idle.guest,
        guest_slowdown_pct_uffd_vs_shim_idle: ((1 + uffd.guest / 100) / (1 + idle.guest / 100) - 1) * 100,
        qemu_cpu_slowdown_pct_uffd_default_policy: uffd.cpu,
        qemu_cpu_slowdown_pct_shim_idle: idle.cpu,
      };
    },
    derive: (metrics) => {
      const rt = metrics.trap_roundtrip_us_p50 ?? 0;
      const floor = metrics.qemu_stop_cont_us_p50 ?? 0;
      const [low, high] = bootstrapMedianInterval(coldQuartets);
      return {
        trap_roundtrip_vs_floor: floor > 0 ? rt / floor : Number.NaN,
        guest_slowdown_pct_cold_watch: metrics.cold_watch_quartet_slowdown_pct_p50 ?? Number.NaN,
        guest_slowdown_pct_cold_watch_ci95_low: low,
        guest_slowdown_pct_cold_watch_ci95_high: high,
        qemu_cpu_slowdown_pct_cold_watch: metrics.cold_watch_quartet_qemu_cpu_slowdown_pct_p50 ?? Number.NaN,
      };
    },
    resultsDir,
    print: false,
  });
}

/**
 * Runs the trap benchmark and adds its metrics, units and targets to `bench/results/<into>.json`,
 * which the caller's own run wrote just before; `parts` records each part's runs and duration.
 */
export async function addTrapResults(into: string): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'vmi-bench-traps-results-'));
  let traps: BenchResult;
  try {
    traps = await runTrapBench(scratch);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const file = join(RESULTS_DIR, `${into}.json`);
  const base = JSON.parse(readFileSync(file, 'utf8')) as Omit<BenchResult, 'file'> & { parts?: unknown[] };
  const part = (r: Omit<BenchResult, 'file'>) => ({
    name: r.name,
    description: r.description,
    started_at: r.started_at,
    duration_s: r.duration_s,
    runs: r.runs,
    warmup: r.warmup,
  });
  const { file: _file, ...trapsWritten } = traps;
  const merged = {
    ...base,
    description: [base.description, traps.description].filter(Boolean).join('; '),
    duration_s: Math.round((base.duration_s + traps.duration_s) * 10) / 10,
    metrics: { ...base.metrics, ...traps.metrics },
    per_run: { ...base.per_run, ...traps.per_run },
    units: { ...base.units, ...traps.units },
    targets: [...base.targets, ...traps.targets],
    parts: [...(base.parts ?? [part(base)]), part(trapsWritten)],
  };
  writeFileSync(file, `${JSON.stringify(merged, null, 2)}\n`);
  process.stdout.write(`${summaryLine({ ...merged, file })}\n`);
  // A median of the per-run slowdowns is what the targets judge; say how spread they were.
  const m = traps.metrics;
  process.stdout.write(
    `  guest_slowdown_pct_cold_watch: median ${m.guest_slowdown_pct_cold_watch?.toFixed(2)} of ${m.cold_watch_quartet_slowdown_pct_count} quartets, ` +
      `95% interval ${m.guest_slowdown_pct_cold_watch_ci95_low?.toFixed(2)}..${m.guest_slowdown_pct_cold_watch_ci95_high?.toFixed(2)}\n`,
  );
  for (const key of ['cold_watch_run_slowdown_pct', 'guest_slowdown_pct_uffd_default_policy', 'guest_slowdown_pct_shim_idle']) {
    const values = traps.per_run[key] ?? [];
    const sorted = [...values].sort((a, b) => a - b);
    process.stdout.write(
      `  ${key}: median ${median(values).toFixed(2)} over ${values.length} runs, range ${sorted[0]?.toFixed(2)}..${sorted.at(-1)?.toFixed(2)} -> ${relative(process.cwd(), file)}\n`,
    );
  }
}
