import { createHash } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import {
  type BaselineRecord,
  compileValidator,
  Name,
  type ProtectedGuestRecord,
  protectionKv,
  ScannerErrors,
  Sha256Hex,
  slugToken,
  VmiError,
  validators,
} from '@vmi/contracts';
import type { Logger } from '@vmi/service-runtime';
import Type, { type Static } from 'typebox';

export interface ProtectedObject {
  readonly record: BaselineRecord;
  readonly baseline: Buffer;
}

/** A changed state of an object that a scanner already reported (shared by every scanner instance). */
export const ReportedState = Type.Object(
  {
    guest: Name,
    object: Type.String({ minLength: 1, maxLength: 256 }),
    sha256: Sha256Hex,
    finding_id: Type.String({ format: 'uuid' }),
  },
  { additionalProperties: false },
);
export type ReportedState = Static<typeof ReportedState>;
const reportedValidator = compileValidator(ReportedState, 'reported-state');

/**
 * The baseline's bytes, once they are shown to be what the record says: as long as the object and
 * with its hash. The sweep compares memory with these bytes and the checks compare hashes with the
 * record's, so the two must agree; a record where they do not is refused, not half believed.
 */
function baselineOf(record: BaselineRecord): Buffer {
  const bytes = Buffer.from(record.bytes_base64, 'base64');
  if (bytes.length !== record.length) {
    throw new VmiError(ScannerErrors.STATE_INVALID, `${record.object}: baseline holds ${bytes.length} bytes, the object ${record.length}`);
  }
  if (createHash('sha256').update(bytes).digest('hex') !== record.sha256) {
    throw new VmiError(ScannerErrors.STATE_INVALID, `${record.object}: baseline bytes do not match its sha256`);
  }
  return bytes;
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
  /** KV key of a reported state -> the state. */
  private readonly reported = new Map<string, ReportedState>();
  rejected = 0;
  /** Goes up whenever a guest or a baseline changes, so what is derived from them can be rebuilt. */
  revision = 0;
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
    if (kind === 'f') {
      if (operation !== 'PUT') this.reported.delete(key);
      else this.reported.set(key, reportedValidator.decode(value));
      return;
    }
    this.revision += 1;
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
    view.objects.set(record.object, { record, baseline: baselineOf(record) });
  }

  static reportedKey(guest: string, object: string): string {
    return `${slugToken(guest)}.f.${slugToken(object)}`;
  }

  /** The finding id a scanner gave this exact state of the object, if one reported it. */
  reportedAs(guest: string, object: string, sha256: string): string | undefined {
    const r = this.reported.get(ProtectionView.reportedKey(guest, object));
    return r !== undefined && r.sha256 === sha256 ? r.finding_id : undefined;
  }

  async markReported(state: ReportedState): Promise<void> {
    const key = ProtectionView.reportedKey(state.guest, state.object);
    this.reported.set(key, state);
    await this.kv.put(key, JSON.stringify(state));
  }

  async clearReported(guest: string, object: string): Promise<void> {
    const key = ProtectionView.reportedKey(guest, object);
    if (!this.reported.delete(key)) return;
    await this.kv.delete(key).catch(() => undefined);
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

  /** The guests attached on one host: the only ones whose memory a scanner on that host can read. */
  onHost(host: string): GuestView[] {
    const slug = slugToken(host);
    return this.all().filter((v) => slugToken(v.guest.host) === slug);
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
