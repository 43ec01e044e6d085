import { EXAMPLES, type TrapEvent } from '@vmi/contracts';
import { describe, expect, it } from 'vitest';
import { TrapIntake, type TrapIntakeOptions } from './trap-intake.js';

function trap(id: string): TrapEvent {
  const example = EXAMPLES['trap-event'];
  if (example === undefined) throw new Error('no trap-event example');
  return { ...(structuredClone(example.good) as TrapEvent), id };
}

const options: TrapIntakeOptions = { maxFastInFlight: 4, graceMs: 0, rememberMs: 60_000, rememberMax: 1000 };

/** Records every check; each one settles when the test says so. */
function checker() {
  const calls: { id: string; settle: (ok: boolean) => void }[] = [];
  const check = (event: TrapEvent) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ id: event.id, settle: (ok) => (ok ? resolve() : reject(new Error('check failed'))) });
    });
  return { calls, check };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('taking each trap from its fast copy and its durable copy', () => {
  it('checks a trap once: the durable copy is done when the fast check is', async () => {
    const { calls, check } = checker();
    const intake = new TrapIntake(check, options);
    intake.fast(trap('a'));
    intake.fast(trap('a'));
    const durable = intake.durable(trap('a'), 1);
    await tick();
    expect(calls.map((c) => c.id)).toEqual(['a']);
    calls[0]?.settle(true);
    await durable;
    expect(calls).toHaveLength(1);
    expect(intake.counters).toMatchObject({ fast: 1, durable: 0 });
  });

  it('checks the durable copy again when the fast check failed, and throws when that fails too', async () => {
    const { calls, check } = checker();
    const intake = new TrapIntake(check, options);
    intake.fast(trap('b'));
    const durable = intake.durable(trap('b'), 1);
    calls[0]?.settle(false);
    await tick();
    expect(calls.map((c) => c.id)).toEqual(['b', 'b']);
    calls[1]?.settle(false);
    await expect(durable).rejects.toThrow('check failed');
    expect(intake.counters).toMatchObject({ fast: 0, fastFailed: 1, durable: 0 });
    // The redelivery is checked again.
    const again = intake.durable(trap('b'), 2);
    await tick();
    calls[2]?.settle(true);
    await again;
    expect(intake.counters.durable).toBe(1);
  });

  it('checks a durable copy whose fast copy never came, and then ignores a late fast copy', async () => {
    const { calls, check } = checker();
    const intake = new TrapIntake(check, options);
    const durable = intake.durable(trap('c'), 1);
    await tick();
    intake.fast(trap('c'));
    expect(calls.map((c) => c.id)).toEqual(['c']);
    calls[0]?.settle(true);
    await durable;
    expect(intake.counters).toMatchObject({ fast: 0, durable: 1 });
  });

  it('leaves fast copies beyond its limit to the durable path, which checks them without a grace period', async () => {
    const { calls, check } = checker();
    const intake = new TrapIntake(check, { ...options, maxFastInFlight: 2, graceMs: 60_000 });
    for (const id of ['d1', 'd2', 'd3']) intake.fast(trap(id));
    expect(calls.map((c) => c.id)).toEqual(['d1', 'd2']);
    expect(intake.counters.deferred).toBe(1);
    const durable = intake.durable(trap('d3'), 1);
    await tick();
    expect(calls.map((c) => c.id)).toEqual(['d1', 'd2', 'd3']);
    for (const c of calls) c.settle(true);
    await durable;
    await intake.drain();
    // Room again once the fast checks are done.
    intake.fast(trap('d4'));
    expect(calls.map((c) => c.id)).toContain('d4');
  });

  it('checks a held trap at once even beyond its limit: a vCPU waits for its verdict', async () => {
    const { calls, check } = checker();
    const intake = new TrapIntake(check, { ...options, maxFastInFlight: 1 });
    intake.fast(trap('h1'));
    intake.fast({ ...trap('h2'), held: true });
    intake.fast(trap('h3'));
    expect(calls.map((c) => c.id)).toEqual(['h1', 'h2']);
    expect(intake.counters.deferred).toBe(1);
    for (const c of calls) c.settle(true);
    await intake.drain();
  });

  it('gives another instance the grace period on a first durable delivery it never saw fast', async () => {
    const { calls, check } = checker();
    const intake = new TrapIntake(check, { ...options, graceMs: 150 });
    const started = Date.now();
    const durable = intake.durable(trap('e'), 1);
    await tick();
    expect(calls).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(calls.map((c) => c.id)).toEqual(['e']);
    calls[0]?.settle(true);
    await durable;
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    // A redelivery does not wait.
    const redelivered = intake.durable(trap('f'), 2);
    await tick();
    expect(calls.map((c) => c.id)).toEqual(['e', 'f']);
    calls[1]?.settle(true);
    await redelivered;
  });

  it('checks at once a durable copy the agent handed to no scanner: no fast check exists to wait for', async () => {
    const { calls, check } = checker();
    const intake = new TrapIntake(check, { ...options, graceMs: 60_000 });
    const durable = intake.durable(trap('g'), 1, false);
    await tick();
    expect(calls.map((c) => c.id)).toEqual(['g']);
    calls[0]?.settle(true);
    await durable;
  });

  it('forgets the oldest traps beyond its memory', async () => {
    const { calls, check } = checker();
    const intake = new TrapIntake(check, { ...options, maxFastInFlight: 100, rememberMax: 3 });
    for (const id of ['g1', 'g2', 'g3', 'g4']) intake.fast(trap(id));
    for (const c of calls) c.settle(true);
    await intake.drain();
    // g1 was forgotten: its durable copy is checked; g4 is still known.
    const forgotten = intake.durable(trap('g1'), 1);
    const known = intake.durable(trap('g4'), 1);
    await tick();
    expect(calls.map((c) => c.id)).toEqual(['g1', 'g2', 'g3', 'g4', 'g1']);
    calls[4]?.settle(true);
    await Promise.all([forgotten, known]);
  });
});
