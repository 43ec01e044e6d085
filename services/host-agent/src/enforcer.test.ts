import { randomUUID } from 'node:crypto';
import { SCHEMA_VERSION, type Verdict } from '@vmi/contracts';
import { describe, expect, it } from 'vitest';
import { Enforcer, type HeldTrap } from './enforcer.js';

function verdict(trapId: string, malicious: boolean): Verdict {
  return {
    id: randomUUID(),
    time: new Date().toISOString(),
    version: SCHEMA_VERSION,
    type: 'verdict',
    host: 'h',
    guest: 'g',
    trap_id: trapId,
    verdict: malicious ? 'malicious' : 'benign',
    reason: 'test',
    finding_id: null,
    restore: malicious,
  };
}

function setup(timeoutMs = 5000) {
  const released: Array<{ trapId: string; restore: boolean }> = [];
  const timedOut: string[] = [];
  const enforcer = new Enforcer({
    timeoutMs,
    onTimeout: (h) => timedOut.push(h.trapId),
    onReleased: () => undefined,
    onError: () => undefined,
  });
  const held = (trapId: string): HeldTrap => ({
    trapId,
    seq: 1n,
    release: async (restore) => {
      released.push({ trapId, restore });
    },
  });
  return { enforcer, held, released, timedOut };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('holding a vCPU for its verdict', () => {
  it('releases on the verdict, restoring when it is malicious', async () => {
    const { enforcer, held, released } = setup();
    enforcer.hold(held('t1'));
    expect(enforcer.pending).toBe(1);
    expect(enforcer.verdict(verdict('t1', true))).toBe(true);
    await tick();
    expect(released).toEqual([{ trapId: 't1', restore: true }]);
    expect(enforcer.pending).toBe(0);
  });

  it('settles a hold at once with a verdict that came before it', async () => {
    const { enforcer, held, released } = setup();
    expect(enforcer.verdict(verdict('t2', false))).toBe(false);
    enforcer.hold(held('t2'));
    await tick();
    expect(released).toEqual([{ trapId: 't2', restore: false }]);
  });

  it('ignores the second copy of a verdict: it settles nothing and is not kept as an early one', async () => {
    const { enforcer, held, released, timedOut } = setup(100);
    enforcer.hold(held('t3'));
    expect(enforcer.verdict(verdict('t3', true))).toBe(true);
    expect(enforcer.verdict(verdict('t3', true))).toBe(false);
    await tick();
    expect(released).toHaveLength(1);
    // Were the copy kept among the early verdicts, this hold would be settled by it at once.
    enforcer.hold(held('t3'));
    await new Promise((r) => setTimeout(r, 200));
    expect(timedOut).toEqual(['t3']);
    expect(released).toEqual([
      { trapId: 't3', restore: true },
      { trapId: 't3', restore: false },
    ]);
  });

  it('lets the vCPU go unchanged when no verdict comes in time, and a late verdict finds it settled', async () => {
    const { enforcer, held, released, timedOut } = setup(50);
    enforcer.hold(held('t4'));
    await new Promise((r) => setTimeout(r, 120));
    expect(timedOut).toEqual(['t4']);
    expect(released).toEqual([{ trapId: 't4', restore: false }]);
    expect(enforcer.verdict(verdict('t4', true))).toBe(false);
    await tick();
    expect(released).toHaveLength(1);
  });
});
