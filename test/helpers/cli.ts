import { execa, type ResultPromise } from 'execa';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The command line that runs the CLI from source, in one Node process (signals reach it directly). */
export const FROM_SOURCE = [process.execPath, '--import', 'tsx', ROOT + 'src/cli/bin.ts'];

/** The real command, from source. */
export function dirtytrackProcess(args: string[]): ResultPromise<{ reject: false; cwd: string; timeout: number }> {
  return execa(FROM_SOURCE[0], [...FROM_SOURCE.slice(1), ...args], { reject: false, cwd: ROOT, timeout: 180_000 });
}

/** Run the real command and return its exit code and output; never throws. */
export async function dirtytrack(...args: string[]) {
  const r = await dirtytrackProcess(args);
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}
