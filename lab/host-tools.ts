import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { LabError, firstLine } from './errors.js';
import { isStaticElf64 } from './elf.js';
import { debianKeyring } from './config.js';

/** busybox-static installs here; the initramfs needs a static busybox (no ld.so yet at /init). */
export const busyboxPath = '/bin/busybox';

export function findInPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function hasStaticBusybox(): boolean {
  try {
    return isStaticElf64(busyboxPath);
  } catch {
    return false;
  }
}

/**
 * Makes sure QEMU, a static busybox and Debian's archive keyring exist, installing the
 * packages on a fresh machine (CI). Everything else the lab uses (apt-get, dpkg-deb, tar, ldd) is part of a
 * Debian base system. The initramfs is written by lab/cpio.ts, so no `cpio` binary is needed.
 */
export async function ensureHostTools(log: (line: string) => void): Promise<void> {
  const missing: string[] = [];
  if (!findInPath('qemu-system-x86_64')) missing.push('qemu-system-x86');
  if (!hasStaticBusybox()) missing.push('busybox-static');
  // Verifies the Debian archives the kernels come from (present on Debian hosts).
  if (!fs.existsSync(debianKeyring)) missing.push('debian-archive-keyring');
  if (missing.length === 0) return;

  if (process.getuid?.() !== 0) {
    throw new LabError(`lab: missing host packages (${missing.join(', ')}); install them as root: apt-get install -y ${missing.join(' ')}`);
  }
  log(`lab: installing host packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = await execa('apt-get', ['update'], { env, reject: false });
  if (update.exitCode !== 0) throw new LabError(`lab: apt-get update failed: ${firstLine(update.stderr)}`);
  const install = await execa('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env, reject: false });
  if (install.exitCode !== 0) {
    throw new LabError(`lab: apt-get install ${missing.join(' ')} failed: ${firstLine(install.stderr)}`);
  }
  if (!findInPath('qemu-system-x86_64') || !hasStaticBusybox()) {
    throw new LabError(`lab: installed ${missing.join(' ')} but qemu-system-x86_64 or a static ${busyboxPath} is still missing`);
  }
}
