import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { IsolationErrors, type IsolationManifest, VmiError, validators } from '@vmi/contracts';
import { unknownSyscalls } from '../native.js';
import { checkManifestSemantics, syscallNames } from './semantics.js';

export interface LoadedManifest {
  readonly manifest: IsolationManifest;
  readonly sha256: string;
  readonly loadedAt: string;
}

function refused(path: string, reason: string, cause?: unknown): VmiError {
  return new VmiError(IsolationErrors.MANIFEST, `${path || '/'} ${reason}`, { path, ...(cause === undefined ? {} : { cause }) });
}

/**
 * Parses and checks a manifest: the schema first (shape, types, ranges), then what a schema cannot
 * say (references between components and resources, placeholders, syscall names libseccomp knows).
 * Anything wrong throws `VMI_ERR_ISOLATION_MANIFEST` with the JSON path of the field and the reason.
 */
export async function parseManifest(text: string, nativeDir?: string): Promise<LoadedManifest> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw refused('', `is not valid JSON (${(cause as Error).message})`, cause);
  }
  const issue = validators.isolationManifest.issues(raw)[0];
  if (issue !== undefined) throw refused(issue.path, issue.message);
  const manifest = raw as IsolationManifest;
  const problem = checkManifestSemantics(manifest);
  if (problem !== null) throw refused(problem.path, problem.reason);

  const names = syscallNames(manifest);
  const unknown = new Set(await unknownSyscalls([...names.keys()], nativeDir));
  for (const [name, path] of names) {
    if (unknown.has(name)) throw refused(path, `names syscall "${name}", which libseccomp does not know`);
  }
  return { manifest, sha256: createHash('sha256').update(text).digest('hex'), loadedAt: new Date().toISOString() };
}

export async function loadManifestFile(file: string, nativeDir?: string): Promise<LoadedManifest> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw refused('', `could not be read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, cause);
  }
  return parseManifest(text, nativeDir);
}
