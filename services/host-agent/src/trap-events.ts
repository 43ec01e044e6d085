import { newId, SCHEMA_VERSION, type TrapEvent } from '@vmi/contracts';
import { hex } from './kernel-addresses.js';
import type { ResolvedRegion } from './resolve-policy.js';
import type { RawTrap } from './trap-source.js';

/** Most bytes one event carries (the schema's limit). */
const MAX_EVENT_BYTES = 4096;

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/**
 * Turns one raw trap into one event per protected object it touched, each with the bytes of that
 * object only (a write straddling two syscall entries is two events).
 */
export function trapEventsFor(
  trap: RawTrap,
  regions: readonly ResolvedRegion[],
  where: { host: string; guest: string },
): Array<{ event: TrapEvent; region: ResolvedRegion }> {
  const span = Math.max(1, trap.newBytes.length);
  return regions.map((region) => {
    // biome-ignore lint/complexity/useMathMinMax: Math.max does not take bigints
    const start = trap.physical > region.physical ? trap.physical : region.physical;
    const writeEnd = trap.physical + BigInt(span);
    const regionEnd = region.physical + BigInt(region.length);
    const end = writeEnd < regionEnd ? writeEnd : regionEnd;
    const from = Number(start - trap.physical);
    const length = Math.min(MAX_EVENT_BYTES, Math.max(1, Number(end - start)));
    const event: TrapEvent = {
      id: newId(),
      time: new Date().toISOString(),
      version: SCHEMA_VERSION,
      type: 'trap',
      host: where.host,
      guest: where.guest,
      seq: Number(trap.seq),
      region: { rule: region.rule, object: region.object, severity: region.severity, mode: region.mode },
      address: {
        virtual: trap.virtual === null ? null : hex(trap.virtual + BigInt(from)),
        physical: hex(start),
      },
      length,
      old_bytes: toHex(trap.oldBytes.subarray(from, from + length)),
      new_bytes: toHex(trap.newBytes.subarray(from, from + length)),
      writer: {
        rip: trap.rip === null ? null : hex(trap.rip),
        cr3: trap.cr3 === null ? null : hex(trap.cr3),
        vcpu: trap.vcpu,
      },
      mechanism: trap.mechanism,
      merged: trap.merged,
      held: trap.held,
      trapped_at: trap.trappedAt.toISOString(),
      native_latency_ns: Math.max(0, Math.round(trap.nativeLatencyNs)),
    };
    return { event, region };
  });
}
