import { X509Certificate } from 'node:crypto';
import { InputErrors, VmiError } from '@vmi/contracts';

/** The server endpoint: https only, no credentials in the URL (they would end up in events and logs). */
export function parseEndpoint(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new VmiError(InputErrors.BAD_ENDPOINT, 'not a URL', { path: '/endpoint' });
  }
  if (url.protocol !== 'https:') throw new VmiError(InputErrors.BAD_ENDPOINT, `scheme ${url.protocol}`, { path: '/endpoint' });
  if (url.username !== '' || url.password !== '')
    throw new VmiError(InputErrors.BAD_ENDPOINT, 'credentials in the URL', { path: '/endpoint' });
  url.hash = '';
  return url;
}

/** A pinned CA must be a CA certificate in PEM; anything else would silently pin nothing. */
export function parsePinnedCa(pem: string | undefined): string | undefined {
  if (pem === undefined) return undefined;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    throw new VmiError(InputErrors.BAD_CA, undefined, { path: '/tls_ca_pem' });
  }
  if (!cert.ca) throw new VmiError(InputErrors.BAD_CA, 'not a CA certificate', { path: '/tls_ca_pem' });
  return pem;
}
