import { fileURLToPath } from 'node:url';

/** The repository root: this file sits two levels under packages/stack (in src/ or dist/). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const deployDir = `${repoRoot}deploy/`;

/** The built entry point of a service. */
export function serviceEntry(service: string): string {
  return `${repoRoot}services/${service}/dist/server.js`;
}
