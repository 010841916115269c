import { DirtyTrackError, invalidArgument } from '../errors.js';
import { PID_MAX } from '../kernel/abi.js';
import { lockTarget } from '../proc/lock.js';
import { checkProcess } from '../proc/process.js';
import { holdLock } from './locked.js';
import { kernelRelease } from '../kernel/info.js';
import { probePagemapScan, probeSoftDirty, probeUffdWp, type Probe } from '../kernel/features.js';
import { SoftDirtyBackend } from './soft-dirty.js';
import { PagemapScanBackend } from './pagemap-scan.js';
import { UffdWpBackend } from './uffd-wp/backend.js';
import type { Backend, BackendName } from '../types.js';

export const BACKEND_NAMES: readonly BackendName[] = ['soft-dirty', 'pagemap-scan', 'uffd-wp'];
export type BackendChoice = BackendName | 'auto';

export interface BackendAvailability extends Probe {
  name: BackendName;
}

/** Fastest first: the order `auto` tries them in. Each entry runs only the probes it needs. */
const PROBES: ReadonlyArray<[BackendName, () => Probe]> = [
  ['pagemap-scan', () => {
    const sd = probeSoftDirty();
    return sd.works ? probePagemapScan() : { works: false, reason: `soft-dirty: ${sd.reason}` };
  }],
  ['soft-dirty', probeSoftDirty],
  ['uffd-wp', probeUffdWp],
];

/** What the live probes say of every backend on this kernel, fastest first (runs every probe). */
export function backendAvailability(): BackendAvailability[] {
  return PROBES.map(([name, probe]) => ({ name, ...probe() }));
}

/** The backends the live probes prove work on this kernel, fastest first. */
export function workingBackends(): BackendName[] {
  return backendAvailability().filter((b) => b.works).map((b) => b.name);
}

/** The backend `auto` resolves to on this kernel: the first that works (later ones are not probed), or an error naming what is missing. */
export function autoBackend(): BackendName {
  for (const [name, probe] of PROBES) if (probe().works) return name;
  const all = backendAvailability();
  throw new DirtyTrackError(
    'ENOTSUP',
    `no tracking backend works on kernel ${kernelRelease()}: ` + all.map((b) => `${b.name}: ${b.reason}`).join('; ') +
      '. Soft-dirty needs CONFIG_MEM_SOFT_DIRTY; uffd-wp needs Linux 6.7+ and the native addon (npm run build:native).',
  );
}

/** Open a backend on `pid`, holding the target's lock (one tracker per process) until close() or release(). */
export function openBackend(pid: number, choice: BackendChoice = 'auto'): Backend {
  if (!Number.isSafeInteger(pid) || pid < 1 || pid > PID_MAX) throw invalidArgument(`openBackend: pid must be an integer from 1 to ${PID_MAX} (got ${describe(pid)})`);
  if (choice !== 'auto' && !BACKEND_NAMES.includes(choice)) throw invalidArgument(`openBackend: backend must be auto, ${BACKEND_NAMES.join(', ')} (got ${describe(choice)})`);
  checkProcess(pid); // a thread id, a kernel thread or a gone pid: one clear error before any probe
  const name = choice === 'auto' ? autoBackend() : choice;
  const lock = lockTarget(pid);
  try {
    return holdLock(construct(pid, name), lock);
  } catch (err) {
    lock.release();
    throw err;
  }
}

function construct(pid: number, name: BackendName): Backend {
  switch (name) {
    case 'soft-dirty': return new SoftDirtyBackend(pid);
    case 'pagemap-scan': return new PagemapScanBackend(pid);
    case 'uffd-wp': return new UffdWpBackend(pid);
  }
}

const describe = (x: unknown) => (typeof x === 'string' ? `'${x}'` : JSON.stringify(x) ?? String(x));
