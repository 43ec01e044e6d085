/**
 * Every function of the native addon and every type that crosses the boundary. Only the facade
 * imports this file: it validates inputs and resolves defaults, so the native side receives resolved
 * values only (bigint addresses, plain numbers for lengths, `null` for absent values) and returns
 * fully populated objects. Handles are opaque: they can only be passed back.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { NativeErrors, VmiError } from '@vmi/contracts';

declare const handleKind: unique symbol;
/** An opaque native object (a type-tagged external). Using a closed one fails with VMI_ERR_NATIVE_CLOSED. */
export type NativeHandle<Kind extends string> = { readonly [handleKind]: Kind };

// biome-ignore lint/complexity/noBannedTypes: members are added per area below.
export type NativeAddon = {};

/** Where the addon is looked for: an explicit override (e.g. an instrumented build), then the normal build. */
function addonPath(): string {
  const override = process.env.VMI_NATIVE_ADDON;
  if (override !== undefined && override !== '') return override;
  return new URL('../build/Release/vmi_native.node', import.meta.url).pathname;
}

let loaded: NativeAddon | undefined;

/** Loads the addon on first use, so importing the package for its types never needs a build. */
export function native(): NativeAddon {
  if (loaded !== undefined) return loaded;
  const path = addonPath();
  if (!existsSync(path)) {
    throw new VmiError(NativeErrors.ADDON_LOAD, 'not built; run `pnpm -F @vmi/native-core build:native`', { details: { path } });
  }
  try {
    loaded = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (cause) {
    throw new VmiError(NativeErrors.ADDON_LOAD, cause instanceof Error ? cause.message : String(cause), { cause, details: { path } });
  }
  return loaded;
}
