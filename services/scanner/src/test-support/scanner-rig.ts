import type { GuestRig } from '@vmi/host-agent/testing';
import { type Scanner, startScanner } from '../app.js';

/** Starts a scanner on the rig's NATS and prefix; the rig closes it before the agent. */
export async function startRigScanner(rig: GuestRig, env: Record<string, string> = {}): Promise<Scanner> {
  const scanner = await startScanner({ env: rig.env({ ...rig.options.extraEnv, ...env }), handleSignals: false, waitForNats: false });
  rig.closers.push(() => scanner.stop());
  return scanner;
}
