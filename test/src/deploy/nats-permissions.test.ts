import { connect, type NatsConnection } from '@nats-io/transport-node';
import { devNatsEnv, freePort, type ProjectNats, startProjectNats } from '@vmi/stack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The NATS configuration in deploy/ gives each service its own user and subjects. These tests run
// the real server with that file, so a service publishing outside its subjects fails here.
describe('per-service NATS permissions', () => {
  let nats: ProjectNats;
  const env = devNatsEnv();

  beforeAll(async () => {
    nats = await startProjectNats({ port: await freePort() });
  });
  afterAll(async () => {
    await nats?.stop();
  });

  async function as(user: string, passVar: string): Promise<NatsConnection> {
    return connect({ servers: nats.url, user, pass: env[passVar] });
  }

  /** Publishes and flushes; resolves with the permissions error the server sent back, if any. */
  async function tryPublish(nc: NatsConnection, subject: string): Promise<string | null> {
    let denied: string | null = null;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'error' && /permission/i.test(String(s.error))) denied = String(s.error);
      }
    })();
    nc.publish(subject, 'x');
    await nc.flush();
    await new Promise((r) => setTimeout(r, 100));
    return denied;
  }

  it('lets the scanner publish findings but not trap events', async () => {
    const nc = await as('scanner', 'NATS_PASS_SCANNER');
    try {
      expect(await tryPublish(nc, 'vmi.finding.high.web-1.syscall-hook')).toBeNull();
      const denied = await tryPublish(nc, 'vmi.trap.hv-1.web-1');
      expect(denied).toMatch(/vmi\.trap\.hv-1\.web-1/);
    } finally {
      await nc.close();
    }
  });

  it("lets the scanner record reported states in the protection KV but not touch the agents' baselines", async () => {
    const nc = await as('scanner', 'NATS_PASS_SCANNER');
    try {
      expect(await tryPublish(nc, '$KV.vmi-protection.web-1.f.sys_call_table-39')).toBeNull();
      expect(await tryPublish(nc, '$KV.vmi-protection.web-1.r.sys_call_table-39')).toMatch(/vmi-protection\.web-1\.r\./);
      expect(await tryPublish(nc, '$KV.vmi-protection.web-1.guest')).toMatch(/vmi-protection\.web-1\.guest/);
    } finally {
      await nc.close();
    }
  });

  it("lets a scanner ask another host's scanners for a scan", async () => {
    const nc = await as('scanner', 'NATS_PASS_SCANNER');
    try {
      expect(await tryPublish(nc, 'vmi.ctl.scanner.hv-2.scan')).toBeNull();
    } finally {
      await nc.close();
    }
  });

  it('refuses the host agent publishing findings', async () => {
    const nc = await as('host-agent', 'NATS_PASS_HOST_AGENT');
    try {
      expect(await tryPublish(nc, 'vmi.trap.hv-1.web-1')).toBeNull();
      expect(await tryPublish(nc, 'vmi.finding.high.web-1.forged')).toMatch(/vmi\.finding/);
    } finally {
      await nc.close();
    }
  });

  it('gives SOC users read access only', async () => {
    const nc = await as('soc', 'NATS_PASS_SOC');
    try {
      expect(await tryPublish(nc, 'vmi.finding.high.web-1.forged')).toMatch(/vmi\.finding/);
    } finally {
      await nc.close();
    }
  });

  it('rejects a wrong password', async () => {
    await expect(connect({ servers: nats.url, user: 'scanner', pass: 'wrong' })).rejects.toThrow(/authorization/i);
  });
});
