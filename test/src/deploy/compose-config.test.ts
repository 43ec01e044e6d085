import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const deployDir = new URL('../../../deploy/', import.meta.url).pathname;

describe('docker-compose stack', () => {
  it('is a valid compose file with every service', () => {
    const out = execFileSync(
      'docker-compose',
      ['-f', `${deployDir}docker-compose.yml`, '--env-file', `${deployDir}nats/dev.env`, 'config'],
      {
        encoding: 'utf8',
      },
    );
    for (const service of ['nats', 'postgres', 'otel-collector', 'host-agent', 'scanner', 'audit', 'input-gateway', 'isolation']) {
      expect(out).toMatch(new RegExp(`^  ${service}:$`, 'm'));
    }
    // Each service connects as its own NATS user, never as the admin.
    expect(out).not.toMatch(/NATS_USER: admin/);
  });

  it('has a NATS configuration that nats-server accepts', () => {
    const env = {
      ...process.env,
      NATS_STORE_DIR: '/nonexistent',
      NATS_PASS_HOST_AGENT: 'a',
      NATS_PASS_SCANNER: 'a',
      NATS_PASS_AUDIT: 'a',
      NATS_PASS_INPUT_GATEWAY: 'a',
      NATS_PASS_ISOLATION: 'a',
      NATS_PASS_SOC: 'a',
      NATS_PASS_ADMIN: 'a',
    };
    const res = spawnSync('nats-server', ['-t', '-c', `${deployDir}nats/nats.conf`], { env, encoding: 'utf8' });
    expect(res.status).toBe(0);
    expect(`${res.stdout}${res.stderr}`).toMatch(/configuration file .* is valid/);
  });
});
