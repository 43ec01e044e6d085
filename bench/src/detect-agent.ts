/**
 * The detect benchmark's host agent, in a process of its own as it is deployed: the real agent
 * (`startAgent`, guests from `GUESTS_FILE`, configuration from the environment) over the native
 * backends, noting when each trap reaches JavaScript. Those times are taken on the monotonic clock
 * (`process.hrtime`), which every process on the machine shares, and handed to the bench over IPC
 * when it asks, so nothing is sent while traps are being timed.
 */

import { type GuestBackends, nativeBackends, startAgent } from '@vmi/host-agent';
import { createLogger } from '@vmi/service-runtime';
import { monotonicMs } from './monotonic.js';

const generationDir = process.env.BENCH_GENERATION_DIR;
if (generationDir === undefined || process.send === undefined) throw new Error('run by the detect benchmark (fork, BENCH_GENERATION_DIR)');

/** When each trap (`<mechanism>:<seq>`) reached JavaScript, in monotonic ms. */
const delivered: Array<[string, number]> = [];

const inner = nativeBackends(createLogger({ service: 'bench-detect', level: 'warn' }), generationDir);
const backends: GuestBackends = {
  openMemory: (guest) => inner.openMemory(guest),
  openSources: (guest, events, enforce) =>
    inner.openSources(
      guest,
      {
        ...events,
        onTraps: (traps) => {
          const t = monotonicMs();
          for (const trap of traps) delivered.push([`${trap.mechanism}:${trap.seq}`, t]);
          events.onTraps(traps);
        },
      },
      enforce,
    ),
};

await startAgent({ backends });
process.on('message', (m) => {
  if (m === 'delivered') process.send?.({ delivered: delivered.splice(0) });
});
// The bench going away takes its agent with it.
process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
process.send({ ready: true });
