import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type KernelVmStatus, type ProtectionPolicy, Subjects, slugToken, validators } from '@vmi/contracts';
import { ensureGuestImage, type GuestImage, waitForConsoleReady } from '@vmi/guest';
import { devNatsEnv, type NatsUser, natsCredentials, type ProjectNats, startProjectNats } from './nats.js';
import { deployDir } from './paths.js';
import { freePort } from './ports.js';
import { ServiceProcess } from './service-process.js';

export interface StackOptions {
  /** Logs, service state, PGlite data and generated files live here. */
  readonly runDir: string;
  /** Use this NATS (it must carry deploy/nats/nats.conf's users); else the project's own is started. */
  readonly natsUrl?: string;
  /** Audit storage: this Postgres, else embedded PGlite under runDir. */
  readonly databaseUrl?: string;
  readonly prefix?: string;
  readonly hostName?: string;
  /** Where kernel VMs keep guest RAM and sockets (a tmpfs). */
  readonly kernelVmDir?: string;
  /** Extra environment for every service (e.g. OTEL_EXPORTER_OTLP_ENDPOINT). */
  readonly serviceEnv?: Record<string, string>;
  readonly onProgress?: (step: string) => void;
}

export interface ProtectedGuest {
  readonly guest: string;
  readonly kernelVm: KernelVmStatus;
  readonly image: GuestImage;
  readonly policy: ProtectionPolicy;
}

/** Kernel VMs keep guest RAM in a tmpfs; one directory per stack run directory, so two stacks never share one. */
function defaultKernelVmDir(runDir: string): string {
  return `/dev/shm/vmi-stack-${createHash('sha256').update(resolve(runDir)).digest('hex').slice(0, 12)}`;
}

const SERVICE_USERS: Record<string, NatsUser> = {
  isolation: 'isolation',
  audit: 'audit',
  scanner: 'scanner',
  'input-gateway': 'input-gateway',
  'host-agent': 'host-agent',
};

/**
 * The whole platform on this machine: NATS with the deploy permissions, then isolation, audit,
 * scanner and input gateway; the host agent starts once there is a guest to protect.
 */
export class Stack {
  readonly services = new Map<string, ServiceProcess>();
  readonly subjects: Subjects;
  readonly hostName: string;
  readonly auditUrl: string;
  readonly auditTokens = {
    read: `read-${Math.random().toString(36).slice(2, 14)}`,
    admin: `admin-${Math.random().toString(36).slice(2, 14)}`,
  };
  private nats: ProjectNats | null = null;
  private admin: NatsConnection | null = null;
  private natsUrl = '';
  private image: GuestImage | null = null;

  private constructor(
    readonly options: StackOptions,
    private readonly auditPort: number,
  ) {
    this.subjects = new Subjects(options.prefix ?? 'vmi');
    this.hostName = options.hostName ?? hostname();
    this.auditUrl = `http://127.0.0.1:${auditPort}`;
  }

  get url(): string {
    return this.natsUrl;
  }

  /** An admin connection to the stack's NATS (for the CLI and tests). */
  get connection(): NatsConnection {
    if (this.admin === null) throw new Error('stack is not started');
    return this.admin;
  }

  static async start(options: StackOptions): Promise<Stack> {
    const stack = new Stack(options, await freePort());
    try {
      await stack.startAll();
      return stack;
    } catch (err) {
      await stack.stop();
      throw err;
    }
  }

  private progress(step: string): void {
    this.options.onProgress?.(step);
  }

  private dir(...parts: string[]): string {
    const d = join(this.options.runDir, ...parts);
    mkdirSync(d, { recursive: true });
    return d;
  }

  private async startAll(): Promise<void> {
    this.dir('logs');
    if (this.options.natsUrl === undefined) {
      this.progress('starting NATS (JetStream, per-service users)');
      this.nats = await startProjectNats({ storeDir: this.dir('nats'), logFile: join(this.dir('logs'), 'nats.log') });
      this.natsUrl = this.nats.url;
    } else {
      this.natsUrl = this.options.natsUrl;
    }
    this.admin = await connect({ servers: this.natsUrl, user: 'admin', pass: devNatsEnv().NATS_PASS_ADMIN, name: 'vmi-stack' });

    this.progress('preparing the guest image (cached after the first build)');
    this.image = await ensureGuestImage();

    await this.startService('isolation', {
      ISOLATION_STATE_DIR: this.dir('isolation', 'state'),
      ISOLATION_LOG_DIR: this.dir('isolation', 'logs'),
      ISOLATION_RUN_DIR: this.options.kernelVmDir ?? defaultKernelVmDir(this.options.runDir),
      ISOLATION_GUEST_KERNEL: this.image.kernelPath,
      ISOLATION_GUEST_INITRD: this.image.initrdPath,
      ISOLATION_STOP_ON_SHUTDOWN: 'true',
    });
    await this.startService('audit', {
      ...(this.options.databaseUrl === undefined ? { AUDIT_DATA_DIR: this.dir('audit-data') } : { DATABASE_URL: this.options.databaseUrl }),
      AUDIT_HTTP_PORT: String(this.auditPort),
      AUDIT_TOKENS: `read:${this.auditTokens.read},admin:${this.auditTokens.admin}`,
    });
    await this.startService('scanner', { TRAP_HANDOFF_SOCKET: this.trapHandoffSocket });
    await this.startService('input-gateway', { INPUT_HTTP_PORT: String(await freePort()) });
  }

  /** Where the host agent hands traps to the scanner (a Unix socket path stays under 108 bytes). */
  private get trapHandoffSocket(): string {
    return join(`${defaultKernelVmDir(this.options.runDir)}-agent`, 'traps.sock');
  }

  private async startService(service: string, env: Record<string, string>): Promise<ServiceProcess> {
    this.progress(`starting ${service}`);
    const user = SERVICE_USERS[service];
    if (user === undefined) throw new Error(`unknown service ${service}`);
    const proc = await ServiceProcess.start({
      service,
      logFile: join(this.dir('logs'), `${service}.log`),
      cwd: this.options.runDir,
      env: {
        ...this.options.serviceEnv,
        ...env,
        ...natsCredentials(user),
        NATS_URL: this.natsUrl,
        SUBJECT_PREFIX: this.subjects.prefix,
        HOST_NAME: this.hostName,
      },
    });
    this.services.set(service, proc);
    return proc;
  }

  /**
   * Asks the isolation service for the guest's kernel VM (it boots the guest in its sandboxed device
   * model), then has the host agent attach and protect it with the policy; resolves once the agent
   * says the guest is protected and the guest's console takes commands.
   */
  async protectGuest(guest: string, policyFile = join(deployDir, 'policies/demo-guest.json')): Promise<ProtectedGuest> {
    const image = this.image;
    if (image === null) throw new Error('stack is not started');
    this.progress(`asking the isolation service for ${guest}'s kernel VM`);
    const reply = await this.connection.request(
      `${this.subjects.control('isolation')}.${slugToken(this.hostName)}.ensure`,
      JSON.stringify({ guest }),
      { timeout: 180_000 },
    );
    const serviceError = reply.headers?.get('Nats-Service-Error');
    if (serviceError) throw new Error(`isolation service refused ${guest}: ${serviceError} ${reply.string()}`);
    const status = validators.kernelVmStatus.parse(reply.json());
    const ep = status.endpoints;
    for (const key of ['ram_file', 'qmp_socket', 'gdb_socket'] as const) {
      if (ep[key] === undefined) throw new Error(`kernel VM of ${guest} has no ${key} endpoint`);
    }

    const policy = validators.policy.parse({ ...JSON.parse(readFileSync(policyFile, 'utf8')), guest });
    const guestDir = this.dir('guests', slugToken(guest));
    const policyPath = join(guestDir, 'policy.json');
    writeFileSync(policyPath, JSON.stringify(policy, null, 2));
    const guestsFile = join(guestDir, 'guests.json');
    writeFileSync(
      guestsFile,
      JSON.stringify(
        {
          guests: [
            {
              name: guest,
              qmpSocket: ep.qmp_socket,
              gdbstub: `unix:${ep.gdb_socket}`,
              ramFile: ep.ram_file,
              // The device model's userfaultfd shim, when its manifest loads it: physical page traps.
              ...(ep.uffd_socket === undefined ? {} : { uffdSocket: ep.uffd_socket }),
              profile: image.profilePath,
              policy: policyPath,
            },
          ],
        },
        null,
        2,
      ),
    );

    const attached = this.waitForAgentEvent(['attached', 'rearmed'], 180_000);
    await this.startService('host-agent', { GUESTS_FILE: guestsFile, TRAP_HANDOFF_SOCKET: this.trapHandoffSocket });
    this.progress(`host agent attaching to ${guest}`);
    await attached;
    if (ep.serial_log !== undefined) {
      // Protected is not yet booted: a command typed on the console before /init reads it is lost.
      this.progress(`waiting for ${guest}'s console`);
      await waitForConsoleReady(ep.serial_log, 180_000);
    }
    return { guest, kernelVm: status, image, policy };
  }

  private waitForAgentEvent(events: string[], timeoutMs: number): Promise<void> {
    const sub = this.connection.subscribe(this.subjects.all('agent'));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        sub.unsubscribe();
        reject(new Error(`the host agent did not report ${events.join(' or ')} within ${timeoutMs} ms`));
      }, timeoutMs);
      void (async () => {
        for await (const m of sub) {
          const ev = validators.agentEvent.check(m.json()) ? validators.agentEvent.parse(m.json()) : null;
          if (ev !== null && events.includes(ev.event)) {
            clearTimeout(timer);
            sub.unsubscribe();
            resolve();
          }
        }
      })();
    });
  }

  /** Stops everything, last started first; services drain before NATS goes. */
  async stop(): Promise<void> {
    for (const name of [...this.services.keys()].reverse()) {
      this.progress(`stopping ${name}`);
      await this.services.get(name)?.stop();
    }
    this.services.clear();
    await this.admin?.close();
    this.admin = null;
    await this.nats?.stop();
    this.nats = null;
  }
}
