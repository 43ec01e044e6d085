import { type ErrorDefinition, NativeErrors, VmiError } from '@vmi/contracts';

const byCode = new Map<string, ErrorDefinition>(Object.values(NativeErrors).map((def) => [def.code, def]));

/**
 * Native code throws plain Errors whose `code` is a VMI_ERR_NATIVE_* code (and, for some, `details`
 * with bigint facts such as the faulting address). This turns them into the catalogue's VmiError,
 * created here so it carries a JavaScript stack.
 */
export function fromNative(error: unknown): unknown {
  if (error instanceof VmiError) return error;
  if (!(error instanceof Error)) return error;
  const code = (error as Error & { code?: unknown }).code;
  const def = typeof code === 'string' ? byCode.get(code) : undefined;
  if (def === undefined) return error;
  const rawDetails = (error as Error & { details?: unknown }).details;
  const details = typeof rawDetails === 'object' && rawDetails !== null ? (rawDetails as Record<string, unknown>) : undefined;
  // The native message already names the problem; keep it as the detail after the catalogue message.
  return new VmiError(def, error.message, { cause: error, ...(details === undefined ? {} : { details }) });
}

/** Runs a synchronous native call, rethrowing its errors as VmiError. */
export function callNative<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw fromNative(error);
  }
}

/**
 * Awaits an asynchronous native call, rethrowing its errors as VmiError. Pass a function to have a
 * synchronous throw (bad arguments, a closed handle) converted as well.
 */
export async function awaitNative<T>(work: Promise<T> | (() => Promise<T>)): Promise<T> {
  try {
    return await (typeof work === 'function' ? work() : work);
  } catch (error) {
    throw fromNative(error);
  }
}
