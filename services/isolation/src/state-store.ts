import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { GuestImageSpec, IsolationErrors, IsolationManifest, Name, Timestamp, VmiError } from '@vmi/contracts';
import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';

const ComponentRecordSchema = Type.Object({
  name: Type.String(),
  pid: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
  startTicks: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  restarts: Type.Integer({ minimum: 0 }),
  started: Type.Union([Timestamp, Type.Null()]),
});

export const KernelVmRecord = Type.Object({
  id: Type.String({ format: 'uuid' }),
  guest: Name,
  slug: Type.String({ minLength: 1, maxLength: 64 }),
  slot: Type.Integer({ minimum: 0 }),
  created: Timestamp,
  image: Type.Union([GuestImageSpec, Type.Null()]),
  manifest_sha256: Type.String(),
  /** The manifest the kernel VM was built with: it keeps it until it is replaced. */
  manifest: IsolationManifest,
  components: Type.Array(ComponentRecordSchema),
});
export type KernelVmRecord = Static<typeof KernelVmRecord>;

const StateFile = Type.Object({ version: Type.Literal(1), kernel_vms: Type.Array(KernelVmRecord) });
type StateFile = Static<typeof StateFile>;
const checkState = Compile(StateFile);

/**
 * The registry's memory across restarts: one JSON file, replaced atomically (write a temporary
 * file, fsync, rename), so a crash leaves the old or the new state and never half of one. A lock
 * file keeps a second service instance off the same directory.
 */
export class StateStore {
  readonly file: string;
  private readonly lockFile: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(readonly dir: string) {
    this.file = join(dir, 'kernel-vms.json');
    this.lockFile = join(dir, 'lock');
  }

  async lock(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(this.lockFile, 'wx', 0o600);
        await handle.writeFile(String(process.pid));
        await handle.close();
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = Number((await readFile(this.lockFile, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new VmiError(IsolationErrors.LOCKED, `${this.dir} (pid ${holder})`);
      }
      // The holder is gone: its lock is stale.
      await unlink(this.lockFile).catch(() => undefined);
    }
    throw new VmiError(IsolationErrors.LOCKED, this.dir);
  }

  async unlock(): Promise<void> {
    await this.writing;
    await unlink(this.lockFile).catch(() => undefined);
  }

  async load(): Promise<KernelVmRecord[]> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new VmiError(IsolationErrors.STATE, this.file, { cause: err });
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (cause) {
      throw new VmiError(IsolationErrors.STATE, `${this.file} is not JSON`, { cause });
    }
    if (!checkState.Check(value)) {
      const first = [...checkState.Errors(value)][0];
      throw new VmiError(IsolationErrors.STATE, `${this.file}${first?.instancePath ?? ''} ${first?.message ?? 'is invalid'}`);
    }
    return [...(value as StateFile).kernel_vms];
  }

  /** Queues a write of the full state; writes never interleave and the last one wins. */
  save(records: readonly KernelVmRecord[]): Promise<void> {
    const state: StateFile = { version: 1, kernel_vms: [...records] };
    const text = `${JSON.stringify(state, null, 2)}\n`;
    this.writing = this.writing.catch(() => undefined).then(() => this.writeAtomically(text));
    return this.writing;
  }

  private async writeAtomically(text: string): Promise<void> {
    const tmp = `${this.file}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, this.file);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
