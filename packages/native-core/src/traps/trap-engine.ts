/**
 * The trap engine facade: one object per guest, whichever backend traps the writes. Objects are
 * protected by tag; the engine watches every alias of an object and maps each native watch back to
 * its tag, so events name the object whatever address the guest wrote through.
 */
import { NativeErrors, VmiError } from '@vmi/contracts';
import { type NativeTrapEvent, native, type TrapEngineHandle } from '../native.js';
import { awaitNative, callNative } from '../native-errors.js';
import { aliasesFor } from './aliases.js';
import { type ResolvedKernel, resolveOptions, resolveTarget } from './options.js';
import type {
  ProtectedObject,
  ProtectTarget,
  TrapAlias,
  TrapBackendKind,
  TrapCounters,
  TrapEngineOptions,
  TrapEvent,
  TrapMode,
  WatchedRange,
} from './types.js';

const EVENT_VERSION = 1;

interface WatchOwner {
  readonly tag: string;
  readonly alias: TrapAlias;
  readonly start: bigint;
  readonly objectStart: bigint;
}

/** Connects a backend to a running guest and returns the engine; the guest keeps running. */
export async function openTrapEngine(options: TrapEngineOptions): Promise<TrapEngine> {
  const resolved = resolveOptions(options);
  const onError =
    options.onError ??
    ((error: unknown) => process.emitWarning(error instanceof Error ? error : new Error(String(error)), 'VmiTrapEngineWarning'));
  // Events can arrive before open() resolves (a write right after the first watch): the engine
  // exists before the handle so its translator is ready.
  const engine = new TrapEngine(options.backend, resolved.native.mode, resolved.kernel, options.onEvents, onError);
  const handle = await awaitNative(native().trapsOpen(resolved.native, (batch) => engine.deliver(batch)));
  engine.attach(handle);
  return engine;
}

export class TrapEngine {
  #handle: TrapEngineHandle | null = null;
  #closed = false;
  #nextId = 1;
  readonly #objects = new Map<string, ProtectedObject>();
  readonly #owners = new Map<number, WatchOwner>();

  /** @internal use openTrapEngine */
  constructor(
    readonly backend: TrapBackendKind,
    readonly mode: TrapMode,
    readonly kernel: ResolvedKernel,
    private readonly onEvents: (events: TrapEvent[]) => void,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** @internal */
  attach(handle: TrapEngineHandle): void {
    this.#handle = handle;
  }

  /** Watches an object at every alias (gdbstub) or its physical pages (uffd). */
  async protect(target: ProtectTarget): Promise<ProtectedObject> {
    const handle = this.#open();
    const t = resolveTarget(target, this.backend);
    if (this.#objects.has(t.tag)) throw new VmiError(NativeErrors.BAD_ARGUMENT, `tag '${t.tag}' is already protected`, { path: '/tag' });
    const ranges: { alias: TrapAlias; virt: bigint | null }[] =
      this.backend === 'uffd' ? [{ alias: 'physical', virt: null }] : aliasesFor(t, this.kernel);
    const watches: WatchedRange[] = [];
    // Reserve the tag now so a concurrent protect() of the same tag fails instead of doubling watches.
    const object: ProtectedObject = { tag: t.tag, phys: t.phys, length: t.length, watches };
    this.#objects.set(t.tag, object);
    try {
      for (const r of ranges) {
        const id = this.#nextId++;
        const start = r.virt ?? t.phys;
        this.#owners.set(id, { tag: t.tag, alias: r.alias, start, objectStart: start });
        try {
          await awaitNative(native().trapsWatch(handle, id, r.virt ?? 0n, t.phys, t.length));
        } catch (error) {
          this.#owners.delete(id);
          throw error;
        }
        watches.push({ id, alias: r.alias, virt: r.virt, phys: t.phys, length: t.length });
      }
    } catch (error) {
      for (const w of watches) await awaitNative(native().trapsUnwatch(handle, w.id)).catch(() => undefined);
      for (const w of watches) this.#owners.delete(w.id);
      this.#objects.delete(t.tag);
      throw error;
    }
    return object;
  }

  /** Stops watching an object; events already queued for it still arrive with its tag. */
  async unprotect(tag: string): Promise<void> {
    const handle = this.#open();
    const object = this.#objects.get(tag);
    if (object === undefined) throw new VmiError(NativeErrors.TRAP_NOT_FOUND, `tag '${tag}' is not protected`, { path: '/tag' });
    this.#objects.delete(tag);
    for (const w of object.watches) await awaitNative(native().trapsUnwatch(handle, w.id));
  }

  /** Re-applies every watch (after something outside the engine removed them). */
  async rearm(): Promise<void> {
    await awaitNative(native().trapsArm(this.#open()));
  }

  /** Enforce mode: lets the held vCPU go, first writing the old bytes back when `restore` is set. */
  async release(seq: bigint, options: { restore?: boolean } = {}): Promise<void> {
    if (typeof seq !== 'bigint' || seq <= 0n)
      throw new VmiError(NativeErrors.BAD_ARGUMENT, 'seq must be a positive bigint', { path: '/seq' });
    const restore = options.restore ?? false;
    if (typeof restore !== 'boolean') throw new VmiError(NativeErrors.BAD_ARGUMENT, 'restore must be a boolean', { path: '/restore' });
    await awaitNative(native().trapsRelease(this.#open(), seq, restore));
  }

  objects(): ProtectedObject[] {
    return [...this.#objects.values()];
  }

  counters(): TrapCounters {
    const handle = this.#open();
    return callNative(() => native().trapsCounters(handle));
  }

  /** What the backend negotiated (features, layout), for logs. */
  describe(): string {
    const handle = this.#open();
    return callNative(() => native().trapsDescribe(handle));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Detaches (the guest keeps running, unwatched); events still queued are delivered first. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const handle = this.#handle;
    this.#handle = null;
    if (handle === null) return;
    const rest = await awaitNative(native().trapsClose(handle));
    if (rest.length > 0) this.deliver(rest);
  }

  /** @internal called on the JavaScript thread with each native batch */
  deliver(batch: NativeTrapEvent[]): void {
    const events: TrapEvent[] = [];
    for (const raw of batch) {
      if (raw.version !== EVENT_VERSION) {
        this.onError(new VmiError(NativeErrors.INTERNAL, `trap event version ${raw.version} is not understood`));
        continue;
      }
      events.push(this.#translate(raw));
    }
    if (events.length === 0) return;
    try {
      this.onEvents(events);
    } catch (error) {
      this.onError(error);
    }
  }

  #translate(raw: NativeTrapEvent): TrapEvent {
    const owner = raw.watchId === 0 ? undefined : this.#owners.get(raw.watchId);
    return {
      version: EVENT_VERSION,
      kind: raw.kind,
      backend: raw.backend,
      seq: raw.seq,
      tag: owner?.tag ?? null,
      alias: owner?.alias ?? null,
      address: raw.address,
      phys: raw.phys,
      offset: owner === undefined ? 0 : Number(raw.address - owner.objectStart),
      hitAddress: raw.hitAddress,
      length: raw.newBytes.length,
      oldBytes: raw.oldBytes,
      newBytes: raw.newBytes,
      rip: raw.rip,
      cr3: raw.cr3,
      vcpu: raw.vcpu,
      stopNs: raw.stopNs,
      resumeNs: raw.resumeNs,
      deliverNs: raw.deliverNs,
      merged: raw.merged,
      held: raw.held,
      detail: raw.detail,
    };
  }

  #open(): TrapEngineHandle {
    if (this.#closed || this.#handle === null) throw new VmiError(NativeErrors.CLOSED, 'trap engine is closed');
    return this.#handle;
  }
}
