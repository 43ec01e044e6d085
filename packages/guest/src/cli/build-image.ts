/**
 * Builds (or finds in the cache) the test guest image and prints where it is:
 *   pnpm -F @vmi/guest build:image
 */
import { ensureGuestImage } from '../image/ensure-guest-image.js';

const started = Date.now();
try {
  const image = await ensureGuestImage({ log: (text) => process.stderr.write(text) });
  process.stdout.write(
    `${JSON.stringify(
      {
        hash: image.hash,
        dir: image.dir,
        kernelVersion: image.kernelVersion,
        kernel: image.kernelPath,
        initrd: image.initrdPath,
        profile: image.profilePath,
        symbols: Object.keys(image.profile.symbols).length,
        seconds: (Date.now() - started) / 1000,
      },
      null,
      2,
    )}\n`,
  );
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
