/**
 * Write traps on a real guest (QEMU under software emulation), both backends. `pnpm bench:native`
 * adds these metrics to `native.json` (see `addTrapResults`).
 *
 * Guest slowdowns. Two guests are booted: a plain one and one whose QEMU carries the userfaultfd
 * shim. Only one guest runs at a time: the other is paused (QMP `stop`, its clock stops too), so
 * they never compete for the CPUs. The measure is the guest workload (CPU work, system calls,
 * fork/exec) timed by the guest's clock, in short segments (-n 10, ~40 ms); the CPU time QEMU's
 * threads used for each (schedstat) is reported beside it. Two comparisons:
 *   cold_watch  the plain guest with one gdbstub engine attached throughout, as an agent keeps
 *               one: 256 watched 8-byte sys_call_table entries (never written; armed together
 *               before a segment, disarmed after it) against none
 *   uffd        the shimmed guest with the default physical-trap policy armed before a segment
 *               (sys_call_table, the IDT and the whole kernel text write-protected) and disarmed
 *               after it, against the plain guest
 * A segment's time moves by ~10% from one to the next with nothing changed, mostly in slow drifts
 * and rare spikes of this shared machine. Segments therefore come in tight quartets (A B B A, or
 * B A A B every other time) so a drift that is linear over a quartet weighs on both sides alike;
 * a quartet's slowdown is the ratio of its two sums, and the figure is the median of every
 * quartet's ratio over all runs (robust to the spikes), with a bootstrap 95% interval beside it.
 * The shimmed guest keeps one userfaultfd engine for the whole benchmark, as an agent does: an
 * engine that attaches and lets go changes the protection of the whole RAM mapping (registration,
 * and un-protecting all of it on release), and the workload right after one cost QEMU a few
 * hundred minor page faults instead of a few dozen: an artefact of attaching, not of protection.
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
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { attackCommands, type Guest, imageVirtToPhys, launchGuest, readAttackStatus, readStoreTimes, symbolAddress } from '@vmi/guest';
import { openTrapEngine, type TrapEngine, type TrapEvent, uffdShimEnv } from '@vmi/native-core';
import { type BenchResult, nowMs, RESULTS_DIR, type RunMetrics, runBench, summaryLine } from './harness.js';
import { processCpuNs } from './process-cpu.js';
import { median } from './stats.js';

const RUNS = Number(process.env.BENCH_TRAP_RUNS ?? 40);
/** The trap-cost measurements (bursts, timed stores) run in every third run. */
const TRAP_COSTS_EVERY = 3;
const BURST = 1000;
const COLD_WATCHES = 256;
/** Rounds of one workload segment (~40 ms). */
const SEGMENT_ROUNDS = 10;
const QUARTETS_PER_RUN = Number(process.env.BENCH_QUARTETS ?? 6);
const BOOTSTRAP_RESAMPLES = 2000;
const UFFD_STORES = Number(process.env.BENCH_UFFD_STORES ?? 100);
const UFFD_STORE_GAP_US = 3000;
const ARMS = 20;

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

interface WorkloadTime {
  guestUs: number;
  qemuCpuUs: number;
}

async function workload(guest: Guest, rounds: number): Promise<WorkloadTime> {
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

/** One side of a comparison: a guest, with what is set up before its segment and undone after. */
interface Side {
  guest: Guest;
  before?: () => Promise<unknown>;
  after?: () => Promise<unknown>;
}

interface Quartets {
  /** Each quartet's slowdown of the test segments against the base ones, %. */
  guest: number[];
  /** The same from QEMU's CPU time. */
  cpu: number[];
  testUs: number;
  baseUs: number;
}

/**
 * `QUARTETS_PER_RUN` quartets of short workload segments, A B B A or B A A B (alternating), so
 * a drift that is linear over a quartet weighs on both sides alike. Only the segment's own guest
 * runs; setting a side up and undoing it stay outside the timed workload.
 */
async function quartets(state: State, run: number, base: Side, test: Side): Promise<Quartets> {
  const segment = async (side: Side): Promise<WorkloadTime> => {
    await activate(state, side.guest);
    await side.before?.();
    try {
      return await workload(side.guest, SEGMENT_ROUNDS);
    } finally {
      await side.after?.();
    }
  };
  const out: Quartets = { guest: [], cpu: [], testUs: 0, baseUs: 0 };
  for (let q = 0; q < QUARTETS_PER_RUN; q++) {
    const testFirst = (run * QUARTETS_PER_RUN + q) % 2 === 1;
    const order = testFirst ? [test, base, base, test] : [base, test, test, base];
    const tested: WorkloadTime[] = [];
    const based: WorkloadTime[] = [];
    for (const side of order) (side === test ? tested : based).push(await segment(side));
    const sum = (rs: readonly WorkloadTime[], key: keyof WorkloadTime) => rs.reduce((acc, r) => acc + r[key], 0);
    out.guest.push(pct(sum(tested, 'guestUs'), sum(based, 'guestUs')));
    out.cpu.push(pct(sum(tested, 'qemuCpuUs'), sum(based, 'qemuCpuUs')));
    out.testUs += sum(tested, 'guestUs') / (2 * QUARTETS_PER_RUN);
    out.baseUs += sum(based, 'guestUs') / (2 * QUARTETS_PER_RUN);
  }
  return out;
}

/** 256 cold watchpoints against none on the plain guest, one engine attached throughout. */
async function coldWatchQuartets(state: State, run: number): Promise<Quartets & { traps: number }> {
  const { plain } = state;
  await activate(state, plain);
  const sct = symbolAddress(plain.profile, 'sys_call_table');
  const targets = Array.from({ length: COLD_WATCHES }, (_, i) => {
    const virt = sct + BigInt(8 * i);
    return { tag: `sct-${i}`, virt, phys: imageVirtToPhys(plain.profile, virt), length: 8, aliases: 'none' as const };
  });
  const gdb = await openGdb(plain);
  try {
    // Attaching stopped the guest once: let that settle outside the measurement.
    await workload(plain, SEGMENT_ROUNDS);
    const before = gdb.counters().queued;
    const result = await quartets(
      state,
      run,
      { guest: plain },
      {
        guest: plain,
        // Asked for at once, the watches are armed in one stop of the guest (and disarmed in one).
        before: () => Promise.all(targets.map((t) => gdb.protect(t))),
        after: () => Promise.all(targets.map((t) => gdb.unprotect(t.tag))),
      },
    );
    return { ...result, traps: gdb.counters().queued - before };
  } finally {
    await gdb.close();
  }
}

/** The default physical-trap policy on the shimmed guest against the plain guest. */
async function uffdQuartets(state: State, run: number): Promise<Quartets & { traps: number }> {
  const { uffd, shimmed, plain } = state;
  const before = uffd.counters().stops;
  const result = await quartets(
    state,
    run,
    { guest: plain },
    { guest: shimmed, before: () => protectDefaultPolicy(uffd, shimmed), after: () => unprotectDefaultPolicy(uffd) },
  );
  return { ...result, traps: uffd.counters().stops - before };
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
  // Every measured run's quartet ratios, for the intervals of their medians.
  const pooled = { cold: [] as number[], uffd: [] as number[] };
  return runBench<State>({
    name: 'native-traps',
    description:
      `slowdowns from ${QUARTETS_PER_RUN} ABBA/BABA quartets per run of guest workload -n ${SEGMENT_ROUNDS} segments (one guest running at a time, ` +
      `the other paused), each figure the median of all quartets' ratios with a bootstrap 95% interval: ${COLD_WATCHES} cold watchpoints vs none on the plain guest ` +
      'with one engine attached (watches armed together before a watched segment, disarmed after it); uffd default policy (sys_call_table+IDT+kernel text ' +
      `armed before a segment of the shimmed guest, disarmed after it) vs the plain guest; once every ${TRAP_COSTS_EVERY} runs, gdbstub: ${BURST} trapped stores (stop-to-stop) with the trap engine vs a bare ` +
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
      workload_plain_segment_us: 'µs',
      workload_cold_watch_segment_us: 'µs',
      workload_uffd_segment_us: 'µs',
      workload_cold_watch_traps: 'traps',
      workload_uffd_traps: 'traps',
      cold_watch_quartet_slowdown_pct: '%',
      cold_watch_quartet_qemu_cpu_slowdown_pct: '%',
      uffd_quartet_slowdown_pct: '%',
      uffd_quartet_qemu_cpu_slowdown_pct: '%',
      cold_watch_run_slowdown_pct: '%',
      uffd_run_slowdown_pct: '%',
      guest_slowdown_pct_cold_watch: '%',
      guest_slowdown_pct_cold_watch_ci95_low: '%',
      guest_slowdown_pct_cold_watch_ci95_high: '%',
      guest_slowdown_pct_uffd_default_policy: '%',
      guest_slowdown_pct_uffd_default_policy_ci95_low: '%',
      guest_slowdown_pct_uffd_default_policy_ci95_high: '%',
      qemu_cpu_slowdown_pct_cold_watch: '%',
      qemu_cpu_slowdown_pct_uffd_default_policy: '%',
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
      // Alternate which comparison comes first from run to run.
      const cold = run % 2 === 0 ? await coldWatchQuartets(state, run) : undefined;
      const uffd = await uffdQuartets(state, run);
      const coldResult = cold ?? (await coldWatchQuartets(state, run));
      if (run >= 0) {
        pooled.cold.push(...coldResult.guest);
        pooled.uffd.push(...uffd.guest);
      }
      return {
        // Pooled over runs: their medians are the slowdowns (see derive).
        cold_watch_quartet_slowdown_pct: coldResult.guest,
        cold_watch_quartet_qemu_cpu_slowdown_pct: coldResult.cpu,
        uffd_quartet_slowdown_pct: uffd.guest,
        uffd_quartet_qemu_cpu_slowdown_pct: uffd.cpu,
        cold_watch_run_slowdown_pct: median(coldResult.guest),
        uffd_run_slowdown_pct: median(uffd.guest),
        workload_plain_segment_us: (coldResult.baseUs + uffd.baseUs) / 2,
        workload_cold_watch_segment_us: coldResult.testUs,
        workload_uffd_segment_us: uffd.testUs,
        workload_cold_watch_traps: coldResult.traps,
        workload_uffd_traps: uffd.traps,
        ...(run % TRAP_COSTS_EVERY === 0 ? { ...(await gdbTrapCosts(state)), ...(await uffdTrapCosts(state)) } : {}),
      };
    },
    derive: (metrics) => {
      const rt = metrics.trap_roundtrip_us_p50 ?? 0;
      const floor = metrics.qemu_stop_cont_us_p50 ?? 0;
      const [low, high] = bootstrapMedianInterval(pooled.cold);
      const [uffdLow, uffdHigh] = bootstrapMedianInterval(pooled.uffd);
      return {
        trap_roundtrip_vs_floor: floor > 0 ? rt / floor : Number.NaN,
        guest_slowdown_pct_cold_watch: metrics.cold_watch_quartet_slowdown_pct_p50 ?? Number.NaN,
        guest_slowdown_pct_cold_watch_ci95_low: low,
        guest_slowdown_pct_cold_watch_ci95_high: high,
        qemu_cpu_slowdown_pct_cold_watch: metrics.cold_watch_quartet_qemu_cpu_slowdown_pct_p50 ?? Number.NaN,
        guest_slowdown_pct_uffd_default_policy: metrics.uffd_quartet_slowdown_pct_p50 ?? Number.NaN,
        guest_slowdown_pct_uffd_default_policy_ci95_low: uffdLow,
        guest_slowdown_pct_uffd_default_policy_ci95_high: uffdHigh,
        qemu_cpu_slowdown_pct_uffd_default_policy: metrics.uffd_quartet_qemu_cpu_slowdown_pct_p50 ?? Number.NaN,
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
  // The medians of all quartets are what the targets judge; say how sure they are and how runs spread.
  const m = traps.metrics;
  for (const [key, quartetKey, runKey] of [
    ['guest_slowdown_pct_cold_watch', 'cold_watch_quartet_slowdown_pct', 'cold_watch_run_slowdown_pct'],
    ['guest_slowdown_pct_uffd_default_policy', 'uffd_quartet_slowdown_pct', 'uffd_run_slowdown_pct'],
  ] as const) {
    const runs = [...(traps.per_run[runKey] ?? [])].sort((a, b) => a - b);
    process.stdout.write(
      `  ${key}: median ${m[key]?.toFixed(2)} of ${m[`${quartetKey}_count`]} quartets, 95% interval ` +
        `${m[`${key}_ci95_low`]?.toFixed(2)}..${m[`${key}_ci95_high`]?.toFixed(2)}; per-run medians ${runs[0]?.toFixed(2)}..${runs.at(-1)?.toFixed(2)}\n`,
    );
  }
  process.stdout.write(`  -> ${relative(process.cwd(), file)}\n`);
}
