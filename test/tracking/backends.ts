import type { BackendName } from '../../src/types.js';

// Tracking tests run once per backend that works here; a kernel where an expected backend does not
// work fails the suite instead of skipping it (watch.test.ts asserts expectedBackends() ⊆ working).
export { workingBackends } from '../../src/backends/select.js';

/** What must work where: every kernel the suite runs on (6.1, 6.12 in the lab; 6.18 here). */
export function expectedBackends(): BackendName[] {
  const lab = process.env.DIRTYTRACK_LAB;
  if (lab === 'deb12') return ['soft-dirty'];
  if (lab === 'deb13') return ['pagemap-scan', 'soft-dirty', 'uffd-wp'];
  return ['uffd-wp'];
}
