import { type ChildProcess, fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Arrival } from './arrival-clock.js';
import { processCpuNs } from './process-cpu.js';

/** The bench's compiled entries (`tsc -b bench` puts them here, from source or not). */
const distDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');

/**
 * A bench entry forked with an IPC channel (the services themselves run through the stack's
 * `ServiceProcess`, which has none): the bench asks it for what it noted, when nothing is timed.
 */
export class ForkedProcess {
  private readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    protected readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} has no process`);
    return this.child.pid;
  }

  cpuSeconds(): number {
    return processCpuNs(this.pid) / 1e9;
  }

  /** SIGTERM (the service drains and exits), SIGKILL if it has not gone in 30 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await this.exited;
    clearTimeout(timer);
  }

  /** `ready`, unless the process exits first. */
  whileRunning<T>(ready: Promise<T>): Promise<T> {
    return Promise.race([
      ready,
      this.exited.then((code) => {
        throw new Error(`${this.name} exited (code ${code}) while starting`);
      }),
    ]);
  }
}

/** The bench's host agent (bench/src/detect-agent.ts): the real agent, timing each trap's arrival. */
export class AgentProcess extends ForkedProcess {
  static async start(env: Record<string, string>): Promise<AgentProcess> {
    // Plain node on the compiled entry: no TypeScript loader thread in the measured process.
    const child = fork(join(distDir, 'detect-agent.js'), [], { env: { ...process.env, ...env }, execArgv: [], stdio: 'inherit' });
    const agent = new AgentProcess('host-agent', child);
    await agent.whileRunning(new Promise<void>((resolve) => child.once('message', () => resolve())));
    return agent;
  }

  /** When each trap since the last call reached the agent's JavaScript, in monotonic ms. */
  delivered(): Promise<Array<[string, number]>> {
    return new Promise((resolve) => {
      this.child.once('message', (m) => resolve((m as { delivered: Array<[string, number]> }).delivered));
      this.child.send('delivered');
    });
  }
}

/** The bench's subscriber (bench/src/arrival-clock.ts): when each message on `subjects` arrived. */
export class ArrivalClock extends ForkedProcess {
  static async start(natsUrl: string, subjects: string[]): Promise<ArrivalClock> {
    const child = fork(join(distDir, 'arrival-clock.js'), [], {
      env: { ...process.env, NATS_URL: natsUrl, BENCH_CLOCK_SUBJECTS: JSON.stringify(subjects) },
      execArgv: [],
      stdio: 'inherit',
    });
    const clock = new ArrivalClock('arrival-clock', child);
    await clock.whileRunning(new Promise<void>((resolve) => child.once('message', () => resolve())));
    return clock;
  }

  /** Every message since the last call, decoded now, with when it arrived (monotonic ms). */
  arrivals(): Promise<Arrival[]> {
    return new Promise((resolve) => {
      this.child.once('message', (m) => resolve((m as { arrivals: Arrival[] }).arrivals));
      this.child.send('arrivals');
    });
  }
}
