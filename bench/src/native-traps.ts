/**
 * Write traps on a real guest (QEMU under software emulation), both backends.
 *
 * - trap_roundtrip_us: a guest burst of 1,000 watched 8-byte stores; each sample is the time from
 *   one trapped store's stop to the next one's, i.e. everything the gdbstub backend does per trap
 *   (stop reply, rip/cr3 reads, shadow diff, generation bump, queueing) before the vCPU runs on.
 * - qemu_stop_cont_us: the same burst under a bare RSP client that answers each stop with `c`
 *   and nothing else: the floor for a trap on this machine.
 * - trap_to_js_us: from the stop reply's arrival to the event object reaching JavaScript.
 * - guest_slowdown_pct_cold_watch: the guest workload (CPU, system calls, fork/exec) with 256
 *   watched 8-byte sys_call_table entries (never written) against no engine attached. They touch
 *   each other, so the engine arms them as one QEMU watchpoint (`armed` in its counters); QEMU
 *   walks every watchpoint on each TLB fill, which is why the engine shares them.
 * - uffd_trap_blocked_us: how long the userfaultfd backend held a faulting vCPU thread: fault read
 *   to write-unprotect-with-wake returned, per store (the kernel's fault-to-reader latency is not
 *   included: the guest cannot time a single store with the programs it has).
 * - uffd_arm_us: protect() of one page, from JavaScript to the armed page and back.
 * - guest_slowdown_pct_uffd_default_policy: the workload on a guest whose QEMU carries the shim and
 *   whose sys_call_table, IDT and whole kernel text are physically protected, against a guest
 *   started without the shim.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Guest, imageVirtToPhys, launchGuest, symbolAddress } from '@vmi/guest';
import { openTrapEngine, type TrapEvent, uffdShimEnv } from '@vmi/native-core';
import { nowMs, runBench } from './harness.js';

const WORKLOAD_ROUNDS = Number(process.env.BENCH_WORKLOAD_ROUNDS ?? 150);
const BURST = 1000;
const COLD_WATCHES = 256;
const UFFD_STORES = Number(process.env.BENCH_UFFD_STORES ?? 100);

interface State {
  dir: string;
  plain: Guest;
  shimmed: Guest;
  socketPath: string;
  burstVirt: bigint;
  burstPhys: bigint;
  shimBurstVirt: bigint;
  shimBurstPhys: bigint;
}

async function burstTarget(guest: Guest): Promise<{ virt: bigint; phys: bigint }> {
  const out = (await guest.exec('cat /proc/vmi_attack')).output;
  const virt = /burst_target=(0x[0-9a-f]+)/.exec(out)?.[1];
  const phys = /burst_target_phys=(0x[0-9a-f]+)/.exec(out)?.[1];
  if (virt === undefined || phys === undefined) throw new Error(`no burst target in ${out}`);
  return { virt: BigInt(virt), phys: BigInt(phys) };
}

async function workloadUs(guest: Guest): Promise<number> {
  const result = await guest.exec(`workload -n ${WORKLOAD_ROUNDS}`, { timeoutMs: 600_000 });
  const us = /elapsed_us=(\d+)/.exec(result.output)?.[1];
  if (us === undefined) throw new Error(`workload printed no timing: ${result.output}`);
  return Number(us);
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
    await guest.exec(`echo 'burst ${virt.toString(16)} ${stores}' > /proc/vmi_attack`, { timeoutMs: 120_000 });
    counting = false;
    sock.write('\x03');
    await new Promise((r) => setTimeout(r, 100));
    await request('D;1');
  } finally {
    sock.destroy();
  }
  return gaps(stops);
}

await runBench<State>({
  name: 'native-traps',
  description:
    `gdbstub: ${BURST} trapped stores (stop-to-stop) with the trap engine vs a bare stop+continue client, ` +
    `workload -n ${WORKLOAD_ROUNDS} with ${COLD_WATCHES} cold watchpoints vs none; uffd: hold time of ${UFFD_STORES} faulting stores, ` +
    'arming one page, workload with sys_call_table+IDT+kernel text protected vs a guest without the shim',
  runs: Number(process.env.BENCH_RUNS ?? 5),
  // One warm-up run: the first workload on a fresh guest pays for translating its code.
  warmup: 1,
  units: {
    trap_roundtrip_us: 'µs',
    qemu_stop_cont_us: 'µs',
    trap_to_js_us: 'µs',
    uffd_trap_blocked_us: 'µs',
    uffd_arm_us: 'µs',
    workload_us: 'µs',
    workload_cold_watch_us: 'µs',
    workload_uffd_us: 'µs',
    workload_shim_idle_us: 'µs',
    guest_slowdown_pct_cold_watch: '%',
    guest_slowdown_pct_uffd_default_policy: '%',
    guest_slowdown_pct_uffd_vs_shim_idle: '%',
    trap_roundtrip_vs_floor: 'ratio',
  },
  targets: [
    { name: 'trap round trip p50 within 2x of the bare stop+continue floor', expression: 'trap_roundtrip_vs_floor <= 2' },
    { name: 'cold-watch slowdown under 1%', expression: 'guest_slowdown_pct_cold_watch < 1' },
    { name: 'uffd blocked p50 under 100 µs', expression: 'uffd_trap_blocked_us_p50 < 100' },
    { name: 'uffd default-policy slowdown under 1%', expression: 'guest_slowdown_pct_uffd_default_policy < 1' },
  ],
  setup: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmi-bench-traps-'));
    const socketPath = join(dir, 'uffd.sock');
    const plain = await launchGuest({ name: 'bench-plain' });
    const shimmed = await launchGuest({ name: 'bench-shim', env: uffdShimEnv(socketPath) });
    const a = await burstTarget(plain);
    const b = await burstTarget(shimmed);
    return { dir, plain, shimmed, socketPath, burstVirt: a.virt, burstPhys: a.phys, shimBurstVirt: b.virt, shimBurstPhys: b.phys };
  },
  teardown: async ({ dir, plain, shimmed }) => {
    await plain.close();
    await shimmed.close();
    rmSync(dir, { recursive: true, force: true });
  },
  run: async ({ state }) => {
    const { plain, shimmed } = state;
    const p = plain.profile;
    const sct = symbolAddress(p, 'sys_call_table');

    // Slowdowns are taken per run against a workload measured right before on the same guest
    // state, so drift on this shared machine hits both sides of each ratio alike.
    const workloadPlain = await workloadUs(plain);
    const workloadShimIdle = await workloadUs(shimmed);

    // gdbstub: cold watchpoints, then a watched burst.
    const events: TrapEvent[] = [];
    const gdb = await openTrapEngine({
      backend: 'gdbstub',
      ramPath: plain.ramPath,
      gdbstub: { port: gdbPort(plain) },
      queueCapacity: 4096,
      onEvents: (batch) => events.push(...batch),
    });
    let workloadColdWatch: number;
    let coldWatchStops: number;
    let roundtrip: number[];
    let toJs: number[];
    try {
      for (let i = 0; i < COLD_WATCHES; i++) {
        const virt = sct + BigInt(8 * i);
        await gdb.protect({ tag: `sct-${i}`, virt, phys: imageVirtToPhys(p, virt), length: 8, aliases: 'none' });
      }
      const stopsBefore = gdb.counters().stops;
      workloadColdWatch = await workloadUs(plain);
      coldWatchStops = gdb.counters().stops - stopsBefore;
      for (let i = 0; i < COLD_WATCHES; i++) await gdb.unprotect(`sct-${i}`);
      await gdb.protect({ tag: 'burst', virt: state.burstVirt, phys: state.burstPhys, length: 8, aliases: 'none' });
      events.length = 0;
      await plain.exec(`echo 'burst ${state.burstVirt.toString(16)} ${BURST}' > /proc/vmi_attack`, { timeoutMs: 120_000 });
      const deadline = Date.now() + 30_000;
      while (events.length < BURST && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      if (events.length !== BURST) throw new Error(`expected ${BURST} events, got ${events.length}`);
      roundtrip = gaps(events.map((e) => e.stopNs));
      toJs = events.map((e) => Number(e.deliverNs - e.stopNs) / 1000);
    } finally {
      await gdb.close();
    }
    const floor = await bareStopContinue(plain, state.burstVirt, BURST);

    // uffd: hold time per faulting store (one store per command, so every store faults), arming.
    const uffdEvents: TrapEvent[] = [];
    const uffd = await openTrapEngine({
      backend: 'uffd',
      ramPath: shimmed.ramPath,
      uffd: { socketPath: state.socketPath },
      onEvents: (batch) => uffdEvents.push(...batch),
    });
    const blocked: number[] = [];
    const arm: number[] = [];
    let workloadUffd: number;
    let uffdFaults: number;
    try {
      for (let i = 0; i < 20; i++) {
        const t0 = nowMs();
        await uffd.protect({ tag: 'arm', phys: state.shimBurstPhys, length: 8 });
        arm.push((nowMs() - t0) * 1000);
        await uffd.unprotect('arm');
      }
      await uffd.protect({ tag: 'burst', phys: state.shimBurstPhys, length: 8 });
      const v = state.shimBurstVirt.toString(16);
      await shimmed.exec(
        `i=1; while [ $i -le ${UFFD_STORES} ]; do echo "poke ${v} $i 8 image 1" > /proc/vmi_attack; sleep 0.05; i=$((i+1)); done`,
        {
          timeoutMs: 300_000,
        },
      );
      await new Promise((r) => setTimeout(r, 500));
      for (const e of uffdEvents) if (e.kind === 'write' && e.resumeNs !== null) blocked.push(Number(e.resumeNs - e.stopNs) / 1000);
      await uffd.unprotect('burst');
      // The default policy: the objects that are rarely written by a healthy kernel.
      const q = shimmed.profile;
      const stext = symbolAddress(q, '_stext');
      const etext = symbolAddress(q, '_etext');
      await uffd.protect({ tag: 'sys_call_table', phys: imageVirtToPhys(q, symbolAddress(q, 'sys_call_table')), length: 8 * 451 });
      await uffd.protect({ tag: 'idt_table', phys: imageVirtToPhys(q, symbolAddress(q, 'idt_table')), length: 4096 });
      await uffd.protect({ tag: 'kernel_text', phys: imageVirtToPhys(q, stext), length: Number(etext - stext) });
      const faultsBefore = uffd.counters().stops;
      workloadUffd = await workloadUs(shimmed);
      uffdFaults = uffd.counters().stops - faultsBefore;
    } finally {
      await uffd.close();
    }
    if (blocked.length < UFFD_STORES / 2) throw new Error(`only ${blocked.length} of ${UFFD_STORES} stores trapped`);

    return {
      trap_roundtrip_us: roundtrip,
      qemu_stop_cont_us: floor,
      trap_to_js_us: toJs,
      uffd_trap_blocked_us: blocked,
      uffd_arm_us: arm,
      workload_us: workloadPlain,
      workload_shim_idle_us: workloadShimIdle,
      workload_cold_watch_us: workloadColdWatch,
      workload_uffd_us: workloadUffd,
      // Traps taken while the workload ran: zero means any slowdown is not the traps' doing.
      workload_cold_watch_stops: coldWatchStops,
      workload_uffd_faults: uffdFaults,
      guest_slowdown_pct_cold_watch: ((workloadColdWatch - workloadPlain) / workloadPlain) * 100,
      // Against the guest without the shim, as the target asks; the shim-idle figure shows how much
      // of that is the two guests differing rather than protection.
      guest_slowdown_pct_uffd_default_policy: ((workloadUffd - workloadPlain) / workloadPlain) * 100,
      guest_slowdown_pct_uffd_vs_shim_idle: ((workloadUffd - workloadShimIdle) / workloadShimIdle) * 100,
    };
  },
  derive: (metrics) => {
    const rt = metrics.trap_roundtrip_us_p50 ?? 0;
    const floor = metrics.qemu_stop_cont_us_p50 ?? 0;
    return { trap_roundtrip_vs_floor: floor > 0 ? rt / floor : Number.NaN };
  },
});
