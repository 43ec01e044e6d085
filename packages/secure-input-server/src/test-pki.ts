import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestPki {
  /** PEM of the CA that issued the server certificate: what a client pins. */
  readonly caPem: string;
  readonly serverKeyPem: string;
  readonly serverCertPem: string;
}

/**
 * A throwaway CA and a server certificate for 127.0.0.1 and localhost, made with the `openssl` CLI
 * (Node can verify certificates but not issue them). For tests, benchmarks and the demo only.
 */
export async function createTestPki(commonName = 'secure-input-test'): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'vmi-pki-'));
  const path = (name: string) => join(dir, name);
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    await run('openssl', [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      path('ca.key'),
      '-out',
      path('ca.pem'),
      '-days',
      '2',
      '-subj',
      `/CN=${commonName} CA`,
    ]);
    await run('openssl', ['req', ...ec, '-keyout', path('server.key'), '-out', path('server.csr'), '-subj', '/CN=localhost']);
    await writeFile(
      path('server.ext'),
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n',
    );
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      path('server.csr'),
      '-CA',
      path('ca.pem'),
      '-CAkey',
      path('ca.key'),
      '-CAcreateserial',
      '-out',
      path('server.pem'),
      '-days',
      '2',
      '-extfile',
      path('server.ext'),
    ]);
    const [caPem, serverKeyPem, serverCertPem] = await Promise.all([
      readFile(path('ca.pem'), 'utf8'),
      readFile(path('server.key'), 'utf8'),
      readFile(path('server.pem'), 'utf8'),
    ]);
    return { caPem, serverKeyPem, serverCertPem };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
