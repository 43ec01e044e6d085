import { access, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { IsolationErrors, VmiError } from '@vmi/contracts';

/**
 * Where memory and pid limits live on this host: cgroup v2 with both controllers available, or the
 * v1 `memory` and `pids` hierarchies. Hosts mix them (v1 controllers plus an empty v2 mount), so
 * each is probed for the controllers it really has.
 */
export type CgroupLayout =
  | { readonly version: 2; readonly mount: string }
  | { readonly version: 1; readonly memory: string; readonly pids: string };

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function v2Controllers(mount: string): Promise<Set<string>> {
  try {
    return new Set((await readFile(join(mount, 'cgroup.controllers'), 'utf8')).trim().split(/\s+/));
  } catch {
    return new Set();
  }
}

export async function detectCgroups(root = '/sys/fs/cgroup'): Promise<CgroupLayout> {
  for (const mount of [root, join(root, 'unified')]) {
    const controllers = await v2Controllers(mount);
    if (controllers.has('memory') && controllers.has('pids')) return { version: 2, mount };
  }
  const memory = join(root, 'memory');
  const pids = join(root, 'pids');
  if ((await exists(join(memory, 'memory.limit_in_bytes'))) && (await exists(join(pids, 'cgroup.procs')))) {
    return { version: 1, memory, pids };
  }
  throw new VmiError(IsolationErrors.CGROUP, `no cgroup v2 with memory+pids and no v1 memory and pids hierarchies under ${root}`);
}

export interface CgroupLimits {
  readonly memoryMiB: number;
  readonly pids: number;
}

/** One component's cgroup(s): created with limits, joined by the launcher, emptied and removed on stop. */
export class ComponentCgroup {
  /** `cgroup.procs` files the launcher writes its pid to before it drops privileges. */
  readonly procsFiles: readonly string[];
  /** The directory that lists every process of the component (what `pids()` reads). */
  readonly path: string;
  private readonly dirs: readonly string[];

  constructor(
    private readonly layout: CgroupLayout,
    relative: readonly string[],
  ) {
    this.dirs =
      layout.version === 2 ? [join(layout.mount, ...relative)] : [join(layout.memory, ...relative), join(layout.pids, ...relative)];
    this.procsFiles = this.dirs.map((d) => join(d, 'cgroup.procs'));
    this.path = this.dirs[this.dirs.length - 1] as string;
  }

  async create(limits: CgroupLimits): Promise<void> {
    const bytes = String(limits.memoryMiB * 1024 * 1024);
    try {
      if (this.layout.version === 2) {
        await this.enableControllersAbove(this.path);
        await mkdir(this.path, { recursive: true });
        await writeFile(join(this.path, 'memory.max'), bytes);
        await writeFile(join(this.path, 'memory.swap.max'), '0').catch(() => undefined);
        await writeFile(join(this.path, 'pids.max'), String(limits.pids));
      } else {
        const [memory, pids] = this.dirs as [string, string];
        await mkdir(memory, { recursive: true });
        await mkdir(pids, { recursive: true });
        await writeFile(join(memory, 'memory.limit_in_bytes'), bytes);
        // Where swap is accounted, the limit must cover memory+swap or the component swaps past it.
        await writeFile(join(memory, 'memory.memsw.limit_in_bytes'), bytes).catch(() => undefined);
        await writeFile(join(pids, 'pids.max'), String(limits.pids));
      }
    } catch (cause) {
      throw new VmiError(IsolationErrors.CGROUP, `${this.path}: ${(cause as Error).message}`, { cause });
    }
  }

  /** cgroup v2 only lets a child limit a controller its parent delegates (`cgroup.subtree_control`). */
  private async enableControllersAbove(leaf: string): Promise<void> {
    if (this.layout.version !== 2) return;
    const parts = leaf.slice(this.layout.mount.length).split('/').filter(Boolean);
    let dir = this.layout.mount;
    for (const part of parts.slice(0, -1)) {
      await writeFile(join(dir, 'cgroup.subtree_control'), '+memory +pids').catch(() => undefined);
      dir = join(dir, part);
      await mkdir(dir, { recursive: true });
    }
    await writeFile(join(dir, 'cgroup.subtree_control'), '+memory +pids');
  }

  /** Every process in the component (all of them, whatever the sandbox forked). */
  async pids(): Promise<number[]> {
    try {
      const text = await readFile(join(this.path, 'cgroup.procs'), 'utf8');
      return text
        .split('\n')
        .filter((s) => s.length > 0)
        .map(Number);
    } catch {
      return [];
    }
  }

  async signal(signal: NodeJS.Signals): Promise<number> {
    const pids = await this.pids();
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        // Already gone.
      }
    }
    return pids.length;
  }

  /** Kills whatever is left and removes the directories (retrying while exiting tasks linger). */
  async remove(): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      if ((await this.signal('SIGKILL')) === 0) {
        let removed = true;
        for (const dir of this.dirs) {
          try {
            await rmdir(dir);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') removed = false;
          }
        }
        if (removed) return;
      }
      await sleep(20);
    }
    throw new VmiError(IsolationErrors.CGROUP, `${this.path} could not be emptied`);
  }

  /** The OOM-kill count (v1 `memory.oom_control`, v2 `memory.events`), for status and tests. */
  async oomKills(): Promise<number> {
    const file = this.layout.version === 2 ? join(this.path, 'memory.events') : join(this.dirs[0] as string, 'memory.oom_control');
    try {
      const m = /oom_kill (\d+)/.exec(await readFile(file, 'utf8'));
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  }
}

/** Removes a now-empty parent cgroup directory (a guest's, after its components are gone). */
export async function removeCgroupDirs(layout: CgroupLayout, relative: readonly string[]): Promise<void> {
  const dirs =
    layout.version === 2 ? [join(layout.mount, ...relative)] : [join(layout.memory, ...relative), join(layout.pids, ...relative)];
  for (const dir of dirs) await rmdir(dir).catch(() => undefined);
}
