import { parseCommandArgs, parsePid } from './args.js';

export const DETACH_USAGE = `  detach <pid>
        remove the userfaultfd that the uffd-wp backend left inside <pid>`;

export async function detachCommand(args: string[]): Promise<void> {
  const { positionals } = parseCommandArgs(args, {});
  const pid = parsePid(positionals[0]);
  const { detachUffd } = await import('../backends/uffd-wp/target-fd.js');
  const removed = detachUffd(pid);
  process.stderr.write(removed ? `detached from ${pid}: userfaultfd unregistered and closed\n` : `nothing to detach: ${pid} holds no userfaultfd\n`);
}
