/**
 * `scripts/demo.sh`: runs the platform against a demo guest and shows live findings.
 * `scripts/demo.sh attack`: runs the demo attacks in the running demo's guest.
 * `scripts/demo.sh --attack`: both, in one go.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { validators } from '@vmi/contracts';
import { loadGuestProfile } from '@vmi/guest';
import { runDemoAttacks } from '../demo-attacks.js';
import { repoRoot } from '../paths.js';
import { Stack } from '../stack.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    attack: { type: 'boolean', default: false },
    guest: { type: 'string', default: 'demo' },
    'run-dir': { type: 'string', default: join(repoRoot, '.run', 'stack') },
  },
});
const runDir = values['run-dir'];
const stateFile = join(runDir, 'demo.json');
const started = Date.now();

function say(line: string): void {
  const t = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stdout.write(`[${t}s] ${line}\n`);
}

interface DemoState {
  readonly guest: string;
  readonly consoleSocket: string;
  readonly profilePath: string;
  readonly auditUrl: string;
  readonly auditReadToken: string;
  readonly natsUrl: string;
}

async function attackRunningDemo(): Promise<void> {
  if (!existsSync(stateFile)) throw new Error('no demo is running: start it first with scripts/demo.sh');
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as DemoState;
  await runDemoAttacks(state.consoleSocket, await loadGuestProfile(state.profilePath), join(runDir, 'logs'), say);
  say('attacks done: the demo window shows the findings');
}

async function runDemo(): Promise<void> {
  const stack = await Stack.start({
    runDir,
    ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
    ...(process.env.OTEL_EXPORTER_OTLP_ENDPOINT
      ? { serviceEnv: { OTEL_EXPORTER_OTLP_ENDPOINT: process.env.OTEL_EXPORTER_OTLP_ENDPOINT } }
      : {}),
    onProgress: say,
  });
  let stopping = false;
  const stop = async (reason: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    say(`${reason}: stopping everything`);
    await stack.stop();
    say('stopped');
    process.exit(reason === 'failure' ? 1 : 0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  const findings = stack.connection.subscribe(stack.subjects.all('finding'));
  void (async () => {
    for await (const m of findings) {
      const check = validators.finding.issues(m.json());
      if (check.length > 0) {
        say(`(a finding that does not match its schema: ${check[0]?.path} ${check[0]?.message})`);
        continue;
      }
      const f = validators.finding.parse(m.json());
      const writer = f.evidence.writer.symbol ?? f.evidence.writer.rip ?? 'unknown writer';
      say(
        `FINDING ${f.severity.toUpperCase()} ${f.rule} on ${f.guest}: ${f.title} [${f.evidence.object}, by ${writer}, via ${f.evidence.detected_by}]`,
      );
    }
  })();

  let guest: Awaited<ReturnType<Stack['protectGuest']>>;
  try {
    guest = await stack.protectGuest(values.guest);
  } catch (err) {
    say(`could not protect ${values.guest}: ${(err as Error).message}; logs are in ${join(runDir, 'logs')}`);
    await stop('failure');
    return;
  }
  const state: DemoState = {
    guest: guest.guest,
    consoleSocket: guest.kernelVm.endpoints.serial_socket ?? '',
    profilePath: guest.image.profilePath,
    auditUrl: stack.auditUrl,
    auditReadToken: stack.auditTokens.read,
    natsUrl: stack.url,
  };
  writeFileSync(stateFile, JSON.stringify(state, null, 2));
  say(`protected: ${guest.guest} (${guest.policy.rules.length} rules). Findings appear below as they arrive.`);
  say(`audit REST: ${stack.auditUrl}/v1/findings (Authorization: Bearer ${stack.auditTokens.read})`);
  say(`NATS: ${stack.url} (user soc, see deploy/nats/dev.env); run "scripts/demo.sh attack" in another terminal, Ctrl-C stops`);
  if (values.attack) await runDemoAttacks(state.consoleSocket, guest.image.profile, join(runDir, 'logs'), say);
}

try {
  if (positionals[0] === 'attack') await attackRunningDemo();
  else if (positionals.length > 0) throw new Error(`unknown command ${positionals[0]}: use no argument, or "attack"`);
  else await runDemo();
} catch (err) {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  process.exit(1);
}
