import { DirtyTrackError } from '../errors.js';
import { kernelRelease } from '../kernel/info.js';
import { probeSoftDirty } from '../kernel/probe-soft-dirty.js';
import { SoftDirtyBackend } from './soft-dirty.js';
import { PagemapScanBackend, probePagemapScan } from './pagemap-scan.js';
import { UffdWpBackend, probeUffdWp } from './uffd-wp/backend.js';
import type { Backend, BackendName } from '../types.js';

export const BACKEND_NAMES: readonly BackendName[] = ['soft-dirty', 'pagemap-scan', 'uffd-wp'];
export type BackendChoice = BackendName | 'auto';

export interface BackendAvailability {
  name: BackendName;
  works: boolean;
  reason: string;
}

/** What the live probes say of each backend on this kernel, fastest first. */
export function backendAvailability(): BackendAvailability[] {
  const sd = probeSoftDirty();
  const pms = probePagemapScan();
  const uffd = probeUffdWp();
  return [
    { name: 'pagemap-scan', works: sd.works && pms.ok, reason: !sd.works ? `soft-dirty: ${sd.detail}` : pms.ok ? 'PAGEMAP_SCAN with PAGE_IS_SOFT_DIRTY works' : (pms.reason ?? 'unsupported') },
    { name: 'soft-dirty', works: sd.works, reason: sd.detail },
    { name: 'uffd-wp', works: uffd.ok, reason: uffd.ok ? 'userfaultfd async write-protect and PAGEMAP_SCAN PAGE_IS_WRITTEN work' : (uffd.reason ?? 'unsupported') },
  ];
}

/** The backends the live probes prove work on this kernel, fastest first. */
export function workingBackends(): BackendName[] {
  return backendAvailability().filter((b) => b.works).map((b) => b.name);
}

/** The backend `auto` resolves to on this kernel, or an error naming what is missing. */
export function autoBackend(): BackendName {
  const all = backendAvailability();
  const pick = all.find((b) => b.works);
  if (pick) return pick.name;
  throw new DirtyTrackError(
    'ENOTSUP',
    `no tracking backend works on kernel ${kernelRelease()}: ` + all.map((b) => `${b.name}: ${b.reason}`).join('; ') +
      '. Soft-dirty needs CONFIG_MEM_SOFT_DIRTY; uffd-wp needs Linux 6.7+ and the native addon (npm run build:native).',
  );
}

export function openBackend(pid: number, choice: BackendChoice = 'auto'): Backend {
  const name = choice === 'auto' ? autoBackend() : choice;
  switch (name) {
    case 'soft-dirty': return new SoftDirtyBackend(pid);
    case 'pagemap-scan': return new PagemapScanBackend(pid);
    case 'uffd-wp': return new UffdWpBackend(pid);
  }
}
