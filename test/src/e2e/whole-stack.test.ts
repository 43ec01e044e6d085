import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Msg } from '@nats-io/transport-node';
import { type Finding, validators } from '@vmi/contracts';
import { attackCommands, SerialConsole } from '@vmi/guest';
import { type ProtectedGuest, Stack } from '@vmi/stack';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { logTails } from './log-tails.js';
import { OtlpReceiver } from './otlp-receiver.js';

const ADMIN_DB = 'postgres://postgres@127.0.0.1:5432/postgres';

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

// The whole platform from the repository's own stack launcher: real NATS with the deploy
// permissions, Postgres, the isolation service booting the guest in its sandbox, the host agent,
// the scanner and the audit service, with traces exported over OTLP.
describe('the whole stack, end to end', () => {
  const runDir = mkdtempSync(join(tmpdir(), 'vmi-e2e-'));
  const database = `vmi_e2e_${process.pid}_${Date.now()}`;
  let otlp: OtlpReceiver;
  let stack: Stack;
  let guest: ProtectedGuest;
  const findings: { finding: Finding; msg: Msg }[] = [];
  let failed = false;

  beforeAll(async () => {
    failed = true; // until the stack is up
    const admin = new pg.Client({ connectionString: ADMIN_DB });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    otlp = await OtlpReceiver.start();
    stack = await Stack.start({
      runDir,
      databaseUrl: `postgres://postgres@127.0.0.1:5432/${database}`,
      kernelVmDir: join('/dev/shm', `vmi-e2e-${process.pid}`),
      serviceEnv: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint, LOG_LEVEL: 'info' },
    });
    const sub = stack.connection.subscribe(stack.subjects.all('finding'));
    void (async () => {
      for await (const msg of sub) findings.push({ finding: validators.finding.parse(msg.json()), msg });
    })();
    guest = await stack.protectGuest('e2e-guest');
    failed = false;
  }, 600_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') failed = true;
  });

  afterAll(async () => {
    await stack?.stop();
    if (failed) process.stderr.write(`${logTails(runDir)}\n`);
    await otlp?.close();
    const admin = new pg.Client({ connectionString: ADMIN_DB });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
    rmSync(runDir, { recursive: true, force: true });
  }, 120_000);

  it('turns a syscall-table hook through a fresh vmap alias in the sandboxed guest into a finding on NATS, in the audit API and in one trace', async () => {
    const console = await SerialConsole.connect(
      guest.kernelVm.endpoints.serial_socket ?? '',
      join(runDir, 'attack-console.log'),
      Date.now() + 10_000,
      () => true,
    );
    try {
      const attack = console.run(attackCommands.hookSyscall(guest.image.profile, 39, 'vmap'));
      expect(await until('the attack command to finish', 60_000, () => attack.exitCode)).toBe(0);
    } finally {
      await console.close();
    }

    // On NATS, from the scanner, with the writer resolved.
    const hit = await until('the finding on NATS', 60_000, () => findings.find((f) => f.finding.rule === 'syscall-table'));
    expect(hit.finding.guest).toBe('e2e-guest');
    expect(hit.finding.severity).toBe('critical');
    expect(hit.finding.evidence.object).toBe('sys_call_table[39]');
    // A vmap alias escapes every watchpoint: only the sandboxed device model's userfaultfd shim,
    // handing the agent a write-protect descriptor, makes this a trap rather than a sweep finding.
    expect(hit.finding.evidence.detected_by).toBe('trap');
    expect(hit.finding.evidence.mechanism).toBe('uffd-wp');
    expect(hit.finding.ocsf.class_uid).toBe(2004);

    // The same finding through the audit REST API (Postgres behind it).
    const auth = { authorization: `Bearer ${stack.auditTokens.read}` };
    const stored = await until('the finding in the audit API', 60_000, async () => {
      const res = await fetch(`${stack.auditUrl}/v1/findings/${hit.finding.id}`, { headers: auth, signal: AbortSignal.timeout(10_000) });
      return res.status === 200 ? ((await res.json()) as { id: string; rule: string; body: Finding }) : undefined;
    });
    expect(stored.rule).toBe('syscall-table');
    expect(stored.body.evidence.new_bytes).toBe(hit.finding.evidence.new_bytes);
    const unauthenticated = await fetch(`${stack.auditUrl}/v1/findings/${hit.finding.id}`, { signal: AbortSignal.timeout(10_000) });
    expect(unauthenticated.status).toBe(401);

    // One trace from the trap to the audit row.
    const traceparent = hit.msg.headers?.get('traceparent') ?? '';
    const traceId = /^00-([0-9a-f]{32})-/.exec(traceparent)?.[1];
    expect(traceId, 'the finding carries trace context').toBeDefined();
    const services = await until('spans of the agent, scanner and audit in one trace', 60_000, () => {
      const s = otlp.servicesInTrace(traceId ?? '');
      return ['host-agent', 'scanner', 'audit'].every((n) => s.has(n)) ? s : undefined;
    });
    expect([...services].sort()).toEqual(expect.arrayContaining(['audit', 'host-agent', 'scanner']));

    // One change, one finding: the sweep (every 5 s) passes over the hooked entry and finds the
    // state reported already.
    await new Promise((r) => setTimeout(r, 6000));
    expect(findings.filter((f) => f.finding.evidence.object === 'sys_call_table[39]').map((f) => f.finding.id)).toEqual([hit.finding.id]);
    // Every service did all of that within its own NATS user's subjects (the scanner's record of
    // the reported state in the protection KV included): the server logged no violation.
    expect(readFileSync(join(runDir, 'logs', 'nats.log'), 'utf8')).not.toMatch(/Violation/);
  }, 240_000);
});
