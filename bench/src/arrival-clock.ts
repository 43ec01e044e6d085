/**
 * The detect benchmark's subscriber, as a SOC's would be: a process that does nothing but note when
 * each message on the given subjects arrives (monotonic clock, shared by every process on the
 * machine). Decoding waits until the bench asks for what arrived, so no other work of the bench
 * (driving the guest, checking findings, its garbage collection) can delay a timestamp.
 */
import { connectNats, createLogger, DETECTION_PATH_NICE, setProcessNice } from '@vmi/service-runtime';
import { monotonicMs } from './monotonic.js';

export interface Arrival {
  readonly at: number;
  readonly subject: string;
  readonly body: unknown;
}

const servers = process.env.NATS_URL;
const subjects = process.env.BENCH_CLOCK_SUBJECTS;
if (servers === undefined || subjects === undefined || process.send === undefined) {
  throw new Error('run by the detect benchmark (fork, NATS_URL, BENCH_CLOCK_SUBJECTS)');
}

// At the services' priority: its own wait for a CPU behind the busy guest is not the product's.
const logger = createLogger({ service: 'bench-clock', level: 'warn' });
setProcessNice(DETECTION_PATH_NICE, logger);
const nc = await connectNats({ servers, name: 'bench-arrival-clock', logger });
const arrived: Array<{ at: number; subject: string; data: Uint8Array }> = [];
for (const subject of JSON.parse(subjects) as string[]) {
  nc.subscribe(subject, { callback: (_err, m) => void arrived.push({ at: monotonicMs(), subject: m.subject, data: m.data }) });
}
await nc.flush();

const text = new TextDecoder();
process.on('message', (m) => {
  if (m !== 'arrivals') return;
  const out: Arrival[] = arrived.splice(0).map((a) => ({ at: a.at, subject: a.subject, body: JSON.parse(text.decode(a.data)) }));
  process.send?.({ arrivals: out });
});
process.on('disconnect', () => void nc.close().finally(() => process.exit(0)));
process.send({ ready: true });
