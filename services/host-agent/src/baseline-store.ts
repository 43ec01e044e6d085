import { createHash } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { AgentErrors, type BaselineRecord, type ProtectedGuestRecord, protectionKv, VmiError, validators } from '@vmi/contracts';

/**
 * The protection state scanners read: each attached guest and each protected object's baseline
 * (hash and copy) in one JetStream KV bucket. A baseline outlives restarts of the agent and of
 * QEMU: re-attaching keeps it, so a change made while nobody watched is still found.
 */
export class BaselineStore {
  private constructor(private readonly kv: KV) {}

  static async open(js: JetStreamClient, prefix: string): Promise<BaselineStore> {
    try {
      const kv = await new Kvm(js).create(protectionKv.bucket(prefix), { history: 1, maxValueSize: 512 * 1024 });
      return new BaselineStore(kv);
    } catch (cause) {
      throw new VmiError(AgentErrors.BASELINE_FAILED, `bucket ${protectionKv.bucket(prefix)}`, { cause });
    }
  }

  async putGuest(record: ProtectedGuestRecord): Promise<void> {
    validators.protectedGuestRecord.parse(record);
    await this.kv.put(protectionKv.guestKey(record.guest), JSON.stringify(record));
  }

  /** What the last agent recorded about this guest, or null. */
  async getGuest(guest: string): Promise<ProtectedGuestRecord | null> {
    const entry = await this.kv.get(protectionKv.guestKey(guest));
    if (entry === null || entry.operation !== 'PUT' || entry.value.length === 0) return null;
    try {
      return validators.protectedGuestRecord.decode(entry.value);
    } catch {
      return null;
    }
  }

  /** The stored baseline of one object, or null (none, or unreadable: then it is taken again). */
  async getBaseline(guest: string, object: string): Promise<BaselineRecord | null> {
    const entry = await this.kv.get(protectionKv.regionKey(guest, object));
    if (entry === null || entry.operation !== 'PUT' || entry.value.length === 0) return null;
    try {
      return validators.baselineRecord.decode(entry.value);
    } catch {
      return null;
    }
  }

  async putBaseline(record: BaselineRecord): Promise<void> {
    validators.baselineRecord.parse(record);
    try {
      await this.kv.put(protectionKv.regionKey(record.guest, record.object), JSON.stringify(record));
    } catch (cause) {
      throw new VmiError(AgentErrors.BASELINE_FAILED, record.object, { cause });
    }
  }

  /** Removes the baselines of objects no longer protected. */
  async prune(guest: string, keep: ReadonlySet<string>): Promise<number> {
    const keepKeys = new Set([...keep].map((o) => protectionKv.regionKey(guest, o)));
    let removed = 0;
    const keys = await this.kv.keys(protectionKv.regionFilter(guest));
    for await (const k of keys) {
      if (!keepKeys.has(k)) {
        await this.kv.delete(k);
        removed += 1;
      }
    }
    return removed;
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
