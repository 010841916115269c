import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Project root: the lab lives in <root>/lab. */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Git-ignored cache for kernels and initramfs images (`.cache/` is in .gitignore). */
export const labCacheDir = path.join(projectRoot, '.cache', 'lab');

export type KernelName = 'deb12' | 'deb13';

export interface KernelSpec {
  name: KernelName;
  /** Debian suite whose cloud kernel we boot. */
  suite: string;
  /** Kernel series we expect, to catch a surprising meta-package target early. */
  expectedSeries: string;
}

/** Debian's cloud flavour: small, boots straight to ttyS0, and has CONFIG_MEM_SOFT_DIRTY=y. */
export const kernels: Record<KernelName, KernelSpec> = {
  deb12: { name: 'deb12', suite: 'bookworm', expectedSeries: '6.1.' },
  deb13: { name: 'deb13', suite: 'trixie', expectedSeries: '6.12.' },
};

export const metaPackage = 'linux-image-cloud-amd64';
export const debianMirror = 'http://deb.debian.org/debian';
export const debianSecurityMirror = 'http://deb.debian.org/debian-security';
export const debianKeyring = '/usr/share/keyrings/debian-archive-keyring.gpg';

export function isKernelName(name: string): name is KernelName {
  return Object.hasOwn(kernels, name);
}
