/**
 * Per-guest isolation: how long a four-component kernel VM takes from nothing to every component
 * healthy (`ensure_cold_ms`: directories, cgroups, seccomp filters, bubblewrap sandboxes, health
 * checks; the device model counts as healthy when QMP answers, so the guest's own boot is not
 * included), beside the same four programs started plainly with the same readiness checks
 * (`plain_spawn_ms`), and how long a killed component takes to be healthy again
 * (`component_restart_ms`, which includes the manifest's first back-off of 100 ms).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GuestImageSpec, Subjects, streamDefinition } from '@vmi/contracts';
import { ensureGuestImage } from '@vmi/guest';
import {
  createIsolationService,
  DEFAULT_MANIFEST,
  deviceModelArgv,
  type HealthProbe,
  nativeProgram,
  natsTarget,
  startNatsRelay,
  waitHealthy,
} from '@vmi/isolation';
import { connectNats, createLogger, deleteStreams, ensureStreams, jetstream } from '@vmi/service-runtime';
import { nowMs, runBench } from './harness.js';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const QEMU = '/usr/bin/qemu-system-x86_64';
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 3);

const logger = createLogger({ service: 'bench-isolation', level: 'warn' });
const nc = await connectNats({ servers: NATS_URL, name: 'bench-isolation', logger });
const prefix = `b${randomBytes(4).toString('hex')}`;
const subjects = new Subjects(prefix);
const stream = streamDefinition('isolation', prefix);
await ensureStreams(nc, [stream]);
const base = await mkdtemp(join(tmpdir(), 'vmi-isolation-bench-'));
await chmod(base, 0o711);
const built = await ensureGuestImage();
const image: GuestImageSpec = { kernel: built.kernelPath, initrd: built.initrdPath, memory_mib: 128 };

const service = await createIsolationService({
  config: {
    natsUrl: NATS_URL,
    hostName: 'bench-host',
    isolationManifest: DEFAULT_MANIFEST,
    isolationStateDir: join(base, 'state'),
    isolationRunDir: join(base, 'run'),
    isolationLogDir: join(base, 'log'),
    isolationIdBase: 1_000_000 + randomInt(0, 2000) * 64 * 256,
    isolationMaxKernelVms: 256,
    isolationCgroupName: `vmi-isolation-bench-${randomBytes(4).toString('hex')}`,
    isolationHealthIntervalMs: 2000,
    isolationEnsureTimeoutMs: 60_000,
    isolationStopOnShutdown: true,
    bwrapPath: '/usr/bin/bwrap',
    qemuPath: QEMU,
  },
  nc,
  js: jetstream(nc),
  subjects,
  logger,
});
await mkdir(join(base, 'run'), { recursive: true, mode: 0o711 });

/** The four programs without any sandbox, in the same order and with the same readiness checks as the manifest. */
async function plainSpawn(dir: string): Promise<{ ms: number; children: ChildProcess[]; close: () => Promise<void> }> {
  await mkdir(dir, { recursive: true });
  const relay = await startNatsRelay(join(dir, 'nats.sock'), natsTarget(NATS_URL), process.getgid?.() ?? 0);
  const children: ChildProcess[] = [];
  const start = (argv: string[]) => {
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: 'ignore' });
    children.push(child);
  };
  const ready = (probe: HealthProbe) => waitHealthy(probe, Date.now() + 30_000, new AbortController().signal);
  const t0 = nowMs();
  start(
    deviceModelArgv(QEMU, image, {
      ramFile: join(dir, 'guest.ram'),
      qmpSockets: [join(dir, 'qmp.sock'), join(dir, 'qmp-health.sock'), join(dir, 'qmp-input.sock')],
      gdbSocket: join(dir, 'gdb.sock'),
      serialSocket: join(dir, 'console.sock'),
      serialLog: join(dir, 'serial.log'),
    }),
  );
  start([nativeProgram('input-proxy'), join(dir, 'qmp-input.sock'), join(dir, 'input.sock')]);
  start([
    nativeProgram('log-shipper'),
    join(dir, 'serial.log'),
    join(dir, 'nats.sock'),
    subjects.isolation('plain', 'console'),
    join(dir, 'shipper.sock'),
    'bench-host',
    'plain',
  ]);
  // The reader starts beside the device model, as in the manifest: it waits for the RAM file itself.
  start([nativeProgram('ram-reader'), join(dir, 'guest.ram'), join(dir, 'reader.sock')]);
  const all = await Promise.all([
    ready({ kind: 'qmp', socket: join(dir, 'qmp-health.sock') }),
    ready({ kind: 'unix-connect', socket: join(dir, 'reader.sock') }),
    ready({ kind: 'unix-connect', socket: join(dir, 'input.sock') }),
    ready({ kind: 'unix-connect', socket: join(dir, 'shipper.sock') }),
  ]);
  const ms = nowMs() - t0;
  if (!all.every(Boolean)) throw new Error('plain programs did not become ready');
  return {
    ms,
    children,
    close: async () => {
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              c.once('exit', () => resolve());
              c.kill('SIGKILL');
            }),
        ),
      );
      await relay.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The input proxy's own program (not bubblewrap) in its cgroup. */
async function programPid(cgroup: string): Promise<number> {
  const pids = (await readFile(join(cgroup, 'cgroup.procs'), 'utf8')).split('\n').filter(Boolean).map(Number);
  for (const pid of pids) if ((await readFile(`/proc/${pid}/comm`, 'utf8')).trim() !== 'bwrap') return pid;
  throw new Error('no program in the cgroup');
}

let guests = 0;
try {
  await runBench({
    name: 'isolation',
    description: `${ITERATIONS} iterations per run, each: the four programs started plainly, then a kernel VM ensured cold (device model, introspection reader, input proxy, log shipper; each in bubblewrap with its uid, namespaces, seccomp filter and cgroup limits), then its input proxy killed and timed until healthy again; everything stopped before the next iteration. Ready = QMP answers for the device model (the guest boot is excluded), the socket accepts for the others.`,
    runs: 5,
    warmup: 1,
    units: { ensure_cold_ms: 'ms', plain_spawn_ms: 'ms', component_restart_ms: 'ms', ensure_vs_plain: 'ratio', sandbox_overhead_ms: 'ms' },
    targets: [
      { name: 'a cold kernel VM is ready quickly', expression: 'ensure_cold_ms_p50 < 300' },
      { name: 'the sandbox costs at most as much again as the programs themselves', expression: 'ensure_vs_plain < 2' },
    ],
    derive: (m) => ({
      ensure_vs_plain: (m.ensure_cold_ms_p50 ?? Number.NaN) / (m.plain_spawn_ms_p50 ?? Number.NaN),
      // What the sandboxes add on top of the programs' own start (QEMU dominates both).
      sandbox_overhead_ms: (m.ensure_cold_ms_p50 ?? Number.NaN) - (m.plain_spawn_ms_p50 ?? Number.NaN),
    }),
    run: async () => {
      const plain: number[] = [];
      const cold: number[] = [];
      const restart: number[] = [];
      for (let i = 0; i < ITERATIONS; i++) {
        const p = await plainSpawn(join(base, `plain-${guests}`));
        plain.push(p.ms);
        await p.close();

        const guest = `bench-${guests++}`;
        let t0 = nowMs();
        const status = await service.registry.ensure(guest, image);
        cold.push(nowMs() - t0);

        const proxy = service.registry.kernelVm(guest).component('input-proxy');
        if (proxy === undefined) throw new Error('no input proxy');
        const restarts = proxy.restarts;
        t0 = nowMs();
        process.kill(await programPid(status.components.find((c) => c.name === 'input-proxy')?.cgroup as string), 'SIGKILL');
        while (!(proxy.restarts > restarts && proxy.state === 'ready')) await new Promise((r) => setTimeout(r, 1));
        restart.push(nowMs() - t0);
        await service.registry.stop(guest);
      }
      return { ensure_cold_ms: cold, plain_spawn_ms: plain, component_restart_ms: restart };
    },
  });
} finally {
  await service.close({ stopAll: true });
  await deleteStreams(nc, [stream.name]);
  await nc.drain();
  await rm(base, { recursive: true, force: true });
}
