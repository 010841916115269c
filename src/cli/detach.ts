import { lockTarget } from '../proc/lock.js';
import { parseCommandArgs, parsePid, usageError } from './args.js';

export const DETACH_USAGE = `  detach <pid>
        remove the userfaultfd that the uffd-wp backend left inside <pid>`;

export async function detachCommand(args: string[]): Promise<void> {
  const { positionals } = parseCommandArgs(args, {});
  if (positionals.length > 1) throw usageError(`unexpected argument '${positionals[1]}'`);
  const pid = parsePid(positionals[0]);
  const { detachUffd, trackerUffds } = await import('../backends/uffd-wp/target-fd.js');
  const lock = lockTarget(pid); // a live watch's descriptor is not ours to remove
  let removed: boolean;
  try {
    removed = detachUffd(pid);
  } finally {
    lock.release();
  }
  const inherited = !removed && trackerUffds(pid).length > 0;
  process.stderr.write(
    removed ? `detached from ${pid}: userfaultfd unregistered and closed\n`
    : inherited ? `nothing to detach: the userfaultfd ${pid} holds was inherited from its parent; it is the parent's tracking, left alone\n`
    : `nothing to detach: ${pid} holds no userfaultfd\n`,
  );
}
