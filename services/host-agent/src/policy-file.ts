import { createHash } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { AgentErrors, isVmiError, type ProtectionPolicy, VmiError, validators } from '@vmi/contracts';

export interface LoadedPolicy {
  readonly policy: ProtectionPolicy;
  /** Hash of the file's bytes: tells a real change from a touch. */
  readonly sha256: string;
}

/**
 * Reads and validates one guest's policy file. A policy for another guest, bad JSON or any field
 * the schema refuses throws `VMI_ERR_AGENT_POLICY_INVALID` naming the field and the reason.
 */
export async function loadPolicyFile(path: string, guest: string): Promise<LoadedPolicy> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new VmiError(AgentErrors.POLICY_FILE, `${basename(path)}: ${(cause as Error).message}`, { cause });
  }
  return parsePolicy(bytes, guest);
}

export function parsePolicy(bytes: Buffer | string, guest: string): LoadedPolicy {
  let policy: ProtectionPolicy;
  try {
    policy = validators.policy.decode(bytes);
  } catch (cause) {
    const path = isVmiError(cause) ? cause.path : undefined;
    throw new VmiError(AgentErrors.POLICY_INVALID, isVmiError(cause) ? cause.message : String(cause), {
      ...(path === undefined ? {} : { path }),
      cause,
    });
  }
  if (policy.guest !== guest) {
    throw new VmiError(AgentErrors.POLICY_INVALID, `/guest is ${JSON.stringify(policy.guest)}, expected ${JSON.stringify(guest)}`, {
      path: '/guest',
    });
  }
  const names = new Set<string>();
  policy.rules.forEach((rule, i) => {
    if (names.has(rule.name)) {
      throw new VmiError(AgentErrors.POLICY_INVALID, `/rules/${i}/name ${JSON.stringify(rule.name)} is used twice`, {
        path: `/rules/${i}/name`,
      });
    }
    names.add(rule.name);
  });
  return { policy, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * Calls `onChange` after the policy file changes (debounced). Editors often replace a file instead
 * of writing it, so the directory is watched, not the file's inode.
 */
export function watchPolicyFile(path: string, onChange: () => void, debounceMs = 100): { close(): void } {
  const name = basename(path);
  let timer: NodeJS.Timeout | undefined;
  const watcher: FSWatcher = watch(dirname(path), { persistent: false }, (_event, file) => {
    if (file !== null && file.toString() !== name) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  });
  watcher.on('error', () => undefined);
  return {
    close() {
      if (timer !== undefined) clearTimeout(timer);
      watcher.close();
    },
  };
}
