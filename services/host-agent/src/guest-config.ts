import { readFile } from 'node:fs/promises';
import { AgentErrors, compileValidator, Name, VmiError } from '@vmi/contracts';
import Type, { type Static } from 'typebox';

/** One guest this agent attaches to, as the operator configures it. */
export const GuestConfig = Type.Object(
  {
    name: Name,
    /** The agent's own QMP socket of this guest (QEMU serves one client per socket). */
    qmpSocket: Type.Optional(Type.String({ minLength: 1 })),
    /** QEMU's gdbstub: `host:port` (TCP) or `unix:/path`. */
    gdbstub: Type.String({ minLength: 1 }),
    /** The shared-memory file that backs guest RAM. */
    ramFile: Type.String({ minLength: 1 }),
    /** Symbol profile of the guest kernel (kallsyms dump or JSON). */
    profile: Type.String({ minLength: 1 }),
    /** Protection policy file; watched for changes. */
    policy: Type.String({ minLength: 1 }),
    /** UNIX socket where the QEMU preload shim hands over its userfaultfd; no physical traps when absent. */
    uffdSocket: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
export type GuestConfig = Static<typeof GuestConfig>;

export const GuestsFile = Type.Object({ guests: Type.Array(GuestConfig, { minItems: 0, maxItems: 256 }) }, { additionalProperties: false });
const guestsValidator = compileValidator(GuestsFile, 'guests-file');

/** Reads the guests file (`{"guests": [...]}`); every field is checked and a bad one named. */
export async function loadGuestsFile(path: string): Promise<GuestConfig[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new VmiError(AgentErrors.GUEST_CONFIG, `guests file: ${(cause as Error).message}`, { cause });
  }
  try {
    const parsed = guestsValidator.decode(text);
    const names = new Set<string>();
    for (const g of parsed.guests) {
      if (names.has(g.name)) throw new VmiError(AgentErrors.GUEST_CONFIG, `guest ${g.name} is configured twice`);
      names.add(g.name);
    }
    return parsed.guests;
  } catch (cause) {
    if (cause instanceof VmiError && cause.code === AgentErrors.GUEST_CONFIG.code) throw cause;
    throw new VmiError(AgentErrors.GUEST_CONFIG, (cause as Error).message, { cause });
  }
}

/** Splits a gdbstub address into TCP host and port, or a UNIX socket path. */
export function parseGdbAddress(address: string): { host: string; port: number } | { path: string } {
  if (address.startsWith('unix:')) return { path: address.slice(5) };
  const m = /^(.+):(\d{1,5})$/.exec(address);
  const port = m === null ? Number.NaN : Number(m[2]);
  if (m === null || port < 1 || port > 65_535) {
    throw new VmiError(AgentErrors.GUEST_CONFIG, `gdbstub address ${JSON.stringify(address)} is not host:port or unix:/path`);
  }
  return { host: m[1] as string, port };
}
