import { createHash } from 'node:crypto';
import { AuditErrors, VmiError } from '@vmi/contracts';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** `read` lists and fetches; `admin` may also verify the chain and run retention. */
export type Scope = 'read' | 'admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a route needs; routes without one are public (health, OpenAPI). */
    scope?: Scope;
  }
}

export interface AuthOptions {
  /** Configured keys as `scope:token`. */
  readonly tokens: readonly string[];
}

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/** Parses `scope:token` entries; only token digests are kept in memory. */
export function tokenTable(entries: readonly string[]): Map<string, Scope> {
  const table = new Map<string, Scope>();
  for (const entry of entries) {
    const at = entry.indexOf(':');
    const scope = entry.slice(0, at);
    const token = entry.slice(at + 1);
    if (at < 0 || (scope !== 'read' && scope !== 'admin') || token.length === 0) {
      // The entry holds a secret: name its position, never its text.
      throw new VmiError(AuditErrors.BAD_REQUEST, `token entry ${entries.indexOf(entry)} is not scope:token`);
    }
    table.set(digest(token), scope);
  }
  return table;
}

/**
 * Bearer tokens checked before anything else runs on a route that declares a scope: no token or an
 * unknown one is 401, a read token on an admin route is 403.
 */
async function authPlugin(app: FastifyInstance, options: AuthOptions): Promise<void> {
  const table = tokenTable(options.tokens);
  app.addHook('onRequest', async (request) => {
    const needed = request.routeOptions.config.scope;
    if (needed === undefined) return;
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer ([\x21-\x7e]{1,1024})$/.exec(header) : null;
    const granted = match?.[1] === undefined ? undefined : table.get(digest(match[1]));
    if (granted === undefined) throw new VmiError(AuditErrors.UNAUTHORIZED);
    if (needed === 'admin' && granted !== 'admin') throw new VmiError(AuditErrors.FORBIDDEN, `needs ${needed}`);
  });
}

export default fp(authPlugin, { name: 'audit-auth', fastify: '5.x', dependencies: ['audit-errors'] });
