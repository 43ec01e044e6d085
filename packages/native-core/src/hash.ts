import { bytes } from './inputs.js';
import { native } from './native.js';
import { awaitNative, callNative } from './native-errors.js';

/** Below this size the worker-thread hop costs more than hashing on the calling thread. */
const INLINE_HASH_BYTES = 64 * 1024;

/** SHA-256 through the OpenSSL linked into Node; large inputs are hashed off the event loop. */
export async function sha256(data: Uint8Array): Promise<Buffer> {
  const input = bytes(data, 'data', Number.MAX_SAFE_INTEGER);
  if (input.byteLength <= INLINE_HASH_BYTES) return callNative(() => native().hashSha256Sync(input));
  return awaitNative(() => native().hashSha256(input));
}
