import { spawn } from 'node:child_process';
import { type ErrorDefinition, GuestErrors, VmiError } from '@vmi/contracts';

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Receives every output chunk (stdout and stderr), e.g. to append to a build log. */
  readonly onOutput?: (text: string) => void;
  readonly error?: ErrorDefinition;
  /** Resolve with the output even when the program exits non-zero. */
  readonly allowFailure?: boolean;
}

/** Runs a program to completion; a non-zero exit becomes a VmiError carrying the output's tail. */
export function runCommand(file: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      options.onOutput?.(text);
      output += text;
      if (output.length > 1 << 20) output = output.slice(-(1 << 19));
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', (error) =>
      reject(new VmiError(options.error ?? GuestErrors.IMAGE_BUILD, `cannot run ${file}: ${error.message}`, { cause: error })),
    );
    child.once('close', (code, signal) => {
      if (code === 0 || (options.allowFailure && code !== null)) {
        resolve(output);
        return;
      }
      const tail = output.slice(-3000);
      reject(
        new VmiError(options.error ?? GuestErrors.IMAGE_BUILD, `${file} ${args.slice(0, 4).join(' ')} failed (${code ?? signal})`, {
          details: { command: [file, ...args].join(' '), exitCode: code, output: tail },
        }),
      );
    });
  });
}
