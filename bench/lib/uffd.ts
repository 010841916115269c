import type { Backend } from '../../src/types.js';

/** The uffd-wp backend if it works on this kernel, else why not (the sections that need it say so). */
export async function uffdWp(): Promise<{ open: (pid: number) => Backend } | { reason: string }> {
  try {
    const mod = await import('../../src/backends/uffd-wp/backend.js');
    const probe = (await import('../../src/kernel/features.js')).probeUffdWp();
    if (!probe.works) return { reason: `uffd-wp does not work here: ${probe.reason}` };
    return { open: (pid: number) => new mod.UffdWpBackend(pid) };
  } catch (err) {
    return { reason: `uffd-wp backend unavailable: ${(err as Error).message}` };
  }
}
