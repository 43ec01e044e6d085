import type { JetStreamClient } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { type BaselineRecord, type ProtectedGuestRecord, protectionKv, validators } from '@vmi/contracts';
import type { Logger } from '@vmi/service-runtime';

export interface ProtectedObject {
  readonly record: BaselineRecord;
  readonly baseline: Buffer;
}

export interface GuestView {
  readonly guest: ProtectedGuestRecord;
  readonly objects: Map<string, ProtectedObject>;
}

/**
 * The scanner's copy of what host agents protect, kept current by watching the protection KV
 * bucket: every attached guest and every object's baseline. Records that fail validation are
 * counted and skipped (an agent never writes them; something else did).
 */
export class ProtectionView {
  /** By guest slug; `guest` is null while only baselines have arrived. */
  private readonly guests = new Map<string, { guest: ProtectedGuestRecord | null; objects: Map<string, ProtectedObject> }>();
  private readonly waiters = new Set<() => void>();
  rejected = 0;
  private stopWatch: (() => void) | undefined;

  private constructor(
    private readonly kv: KV,
    private readonly logger: Logger,
    private readonly onGuest: (guest: ProtectedGuestRecord) => void,
  ) {}

  static async open(
    js: JetStreamClient,
    prefix: string,
    logger: Logger,
    onGuest: (g: ProtectedGuestRecord) => void,
  ): Promise<ProtectionView> {
    const kv = await new Kvm(js).create(protectionKv.bucket(prefix), { history: 1, maxValueSize: 512 * 1024 });
    const view = new ProtectionView(kv, logger, onGuest);
    await view.watch();
    return view;
  }

  private async watch(): Promise<void> {
    const iter = await this.kv.watch({ key: '>' });
    this.stopWatch = () => iter.stop();
    void (async () => {
      for await (const e of iter) {
        try {
          this.apply(e.key, e.operation, e.value);
        } catch (err) {
          this.rejected += 1;
          this.logger.warn({ key: e.key, err: (err as Error).message }, 'protection record refused');
        }
        for (const w of this.waiters) w();
      }
    })();
  }

  private apply(key: string, operation: string, value: Uint8Array): void {
    const [guestSlug, kind] = key.split('.');
    if (guestSlug === undefined) return;
    if (operation !== 'PUT') {
      if (kind === 'guest') this.guests.delete(guestSlug);
      else {
        const view = this.guests.get(guestSlug);
        if (view !== undefined)
          for (const [name, o] of view.objects) if (protectionKv.regionKey(o.record.guest, name) === key) view.objects.delete(name);
      }
      return;
    }
    if (kind === 'guest') {
      const guest = validators.protectedGuestRecord.decode(value);
      const existing = this.guests.get(guestSlug);
      this.guests.set(guestSlug, { guest, objects: existing?.objects ?? new Map() });
      this.onGuest(guest);
      return;
    }
    const record = validators.baselineRecord.decode(value);
    let view = this.guests.get(guestSlug);
    if (view === undefined) {
      // Baselines can arrive before their guest record.
      view = { guest: null, objects: new Map() };
      this.guests.set(guestSlug, view);
    }
    view.objects.set(record.object, { record, baseline: Buffer.from(record.bytes_base64, 'base64') });
  }

  guest(slug: string): GuestView | undefined {
    const v = this.guests.get(slug);
    return v === undefined || v.guest === null ? undefined : { guest: v.guest, objects: v.objects };
  }

  all(): GuestView[] {
    const out: GuestView[] = [];
    for (const v of this.guests.values()) if (v.guest !== null) out.push({ guest: v.guest, objects: v.objects });
    return out;
  }

  /** Waits until `predicate` holds or `timeoutMs` passes (a trap may arrive before its baseline). */
  async until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
    if (predicate()) return true;
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(ok);
      };
      const check = () => {
        if (predicate()) done(true);
      };
      const timer = setTimeout(() => done(predicate()), timeoutMs);
      this.waiters.add(check);
    });
  }

  close(): void {
    this.stopWatch?.();
  }
}
