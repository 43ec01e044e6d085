import { open } from 'node:fs/promises';
import { AgentErrors, VmiError } from '@vmi/contracts';
import { openTrapEngine, type TrapEngine, type TrapEvent } from '@vmi/native-core';
import type { Logger } from '@vmi/service-runtime';
import { type GuestConfig, parseGdbAddress } from './guest-config.js';
import type { GuestBackends, GuestMemoryReader } from './guest-session.js';
import type { RawTrap, TrapSource, TrapSourceEvents } from './trap-source.js';

/** hrtime (the engine's clock) to wall-clock time. */
function wallClock(stopNs: bigint): Date {
  const agoMs = Number(process.hrtime.bigint() - stopNs) / 1e6;
  return new Date(Date.now() - Math.max(0, agoMs));
}

function toRaw(e: TrapEvent): RawTrap {
  return {
    seq: e.seq,
    mechanism: e.backend === 'gdbstub' ? 'watchpoint' : 'uffd-wp',
    virtual: e.backend === 'gdbstub' ? e.address : null,
    physical: e.phys ?? e.address,
    oldBytes: e.oldBytes,
    newBytes: e.newBytes,
    rip: e.rip,
    cr3: e.cr3,
    vcpu: e.vcpu,
    merged: e.merged,
    held: e.held,
    trappedAt: wallClock(e.stopNs),
    nativeLatencyNs: Number(e.deliverNs - e.stopNs),
  };
}

/** One native trap engine as a {@link TrapSource}: each planned watch becomes one protected range. */
class EngineSource implements TrapSource {
  readonly mechanism;
  private next = 1;

  constructor(
    private readonly engine: TrapEngine,
    readonly generationTable: string | null,
  ) {
    this.mechanism = engine.backend === 'gdbstub' ? ('watchpoint' as const) : ('uffd-wp' as const);
  }

  async watch(spec: { virt: bigint; phys: bigint; length: number }): Promise<number> {
    const id = this.next++;
    // The agent already chose every alias, so the engine watches exactly the address given.
    await this.engine.protect({
      tag: String(id),
      phys: spec.phys,
      length: spec.length,
      ...(this.engine.backend === 'gdbstub' ? { virt: spec.virt, aliases: 'none' as const } : {}),
    });
    return id;
  }

  unwatch(id: number): Promise<void> {
    return this.engine.unprotect(String(id));
  }

  release(seq: bigint, restore: boolean): Promise<void> {
    return this.engine.release(seq, { restore });
  }

  close(): Promise<void> {
    return this.engine.close();
  }
}

function dispatch(events: TrapSourceEvents, backend: 'gdbstub' | 'uffd') {
  return (batch: TrapEvent[]) => {
    const writes: RawTrap[] = [];
    for (const e of batch) {
      if (e.kind === 'write') writes.push(toRaw(e));
      else if (backend === 'gdbstub' && e.kind === 'protection-lost') events.onClosed(e.detail);
      else
        events.onProtection({
          mechanism: backend === 'gdbstub' ? 'watchpoint' : 'uffd-wp',
          lost: e.kind === 'protection-lost',
          detail: e.detail,
        });
    }
    if (writes.length > 0) events.onTraps(writes);
  };
}

/** The production wiring: QEMU's gdbstub and, when the guest has the shim, its userfaultfd. */
export function nativeBackends(logger: Logger, generationDir: string | null): GuestBackends {
  return {
    async openSources(guest: GuestConfig, events: TrapSourceEvents, enforce: boolean) {
      const address = parseGdbAddress(guest.gdbstub);
      const generationTable = generationDir === null ? null : `${generationDir}/${encodeURIComponent(guest.name)}.gen`;
      const sources: TrapSource[] = [];
      const notes: string[] = [];
      try {
        const gdb = await openTrapEngine({
          backend: 'gdbstub',
          ramPath: guest.ramFile,
          gdbstub: 'path' in address ? { path: address.path } : { host: address.host, port: address.port },
          mode: enforce ? 'enforce' : 'monitor',
          ...(generationTable === null ? {} : { generationTable: { path: generationTable } }),
          onEvents: dispatch(events, 'gdbstub'),
          onError: (err) => logger.error({ err, guest: guest.name }, 'trap engine error'),
        });
        sources.push(new EngineSource(gdb, generationTable));
      } catch (cause) {
        throw new VmiError(AgentErrors.ATTACH_FAILED, `gdbstub ${guest.gdbstub}: ${(cause as Error).message}`, { cause });
      }
      if (guest.uffdSocket !== undefined) {
        try {
          const uffd = await openTrapEngine({
            backend: 'uffd',
            ramPath: guest.ramFile,
            uffd: { socketPath: guest.uffdSocket },
            onEvents: dispatch(events, 'uffd'),
            onError: (err) => logger.error({ err, guest: guest.name }, 'trap engine error'),
          });
          sources.push(new EngineSource(uffd, null));
        } catch (err) {
          notes.push(`no physical traps on this guest: ${(err as Error).message}`);
        }
      } else {
        notes.push('no physical traps on this guest (no shim socket configured)');
      }
      return { sources, notes };
    },

    async openMemory(guest: GuestConfig): Promise<GuestMemoryReader> {
      const file = await open(guest.ramFile, 'r');
      return {
        // Guest RAM of a small q35 guest lies in the file at its physical address.
        async read(phys: bigint, length: number) {
          const buf = Buffer.alloc(length);
          const { bytesRead } = await file.read(buf, 0, length, Number(phys));
          if (bytesRead !== length) throw new VmiError(AgentErrors.BASELINE_FAILED, `short read at 0x${phys.toString(16)}`);
          return buf;
        },
        close() {
          void file.close();
        },
      };
    },
  };
}
