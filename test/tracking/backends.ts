import { backendAvailability } from '../../src/backend-select.js';
import type { BackendName } from '../../src/types.js';

/**
 * The backends the live probes say work on this kernel. Tracking tests run once per backend; a kernel
 * where none works fails the suite instead of skipping it (see the test that asserts this list).
 */
export function workingBackends(): BackendName[] {
  return backendAvailability().filter((b) => b.works).map((b) => b.name);
}

/** What must work where: every kernel the suite runs on (6.1, 6.12 in the lab; 6.18 here). */
export function expectedBackends(): BackendName[] {
  const lab = process.env.DIRTYTRACK_LAB;
  if (lab === 'deb12') return ['soft-dirty'];
  if (lab === 'deb13') return ['pagemap-scan', 'soft-dirty', 'uffd-wp'];
  return ['uffd-wp'];
}
