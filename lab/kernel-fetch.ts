import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import {
  debianKeyring,
  debianMirror,
  debianSecurityMirror,
  labCacheDir,
  metaPackage,
  type KernelSpec,
} from './config.js';
import { LabError, firstLine } from './errors.js';

/** What we know about a cached kernel; stored next to it as kernel.json. */
export interface KernelInfo {
  name: string;
  suite: string;
  /** `uname -r` inside the guest, e.g. 6.12.57+deb13-cloud-amd64. */
  release: string;
  /** Debian package the vmlinuz came from, and its exact version. */
  package: string;
  packageVersion: string;
  softDirty: boolean;
  /** Compile-time default of /sys/kernel/mm/transparent_hugepage/enabled. */
  thpDefault: 'always' | 'madvise' | 'never' | 'unknown';
  fetchedAt: string;
  downloadSeconds: number;
  vmlinuz: string;
}

export function kernelCacheDir(spec: KernelSpec): string {
  return path.join(labCacheDir, spec.name);
}

function readCachedInfo(dir: string): KernelInfo | undefined {
  try {
    const info = JSON.parse(fs.readFileSync(path.join(dir, 'kernel.json'), 'utf8')) as KernelInfo;
    info.vmlinuz = path.join(dir, 'vmlinuz');
    return fs.existsSync(info.vmlinuz) ? info : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A private apt configuration for one suite, so the host's sources and package state stay
 * untouched (the host may be bookworm while we need trixie's kernel). All state lives in
 * `<cache>/apt`; the host's apt.conf.d (proxies etc.) still applies.
 */
export function privateApt(spec: KernelSpec, dir: string) {
  const aptDir = path.join(dir, 'apt');
  const sourcesList = path.join(aptDir, 'sources.list');
  const status = path.join(aptDir, 'state', 'status');
  for (const sub of ['state/lists/partial', 'cache/archives/partial']) {
    fs.mkdirSync(path.join(aptDir, sub), { recursive: true });
  }
  const signed = `[signed-by=${debianKeyring}]`;
  fs.writeFileSync(
    sourcesList,
    [
      `deb ${signed} ${debianMirror} ${spec.suite} main`,
      `deb ${signed} ${debianMirror} ${spec.suite}-updates main`,
      `deb ${signed} ${debianSecurityMirror} ${spec.suite}-security main`,
      '',
    ].join('\n'),
  );
  // Empty dpkg status: resolution must not depend on what the host has installed.
  if (!fs.existsSync(status)) fs.writeFileSync(status, '');
  const options = [
    `Dir::Etc::SourceList=${sourcesList}`,
    'Dir::Etc::SourceParts=/dev/null',
    'Dir::Etc::Preferences=/dev/null',
    'Dir::Etc::PreferencesParts=/dev/null',
    `Dir::State=${path.join(aptDir, 'state')}`,
    `Dir::State::status=${status}`,
    `Dir::Cache=${path.join(aptDir, 'cache')}`,
    'APT::Architecture=amd64',
    'APT::Architectures=amd64',
    'Acquire::Languages=none',
    // The cache dir belongs to root; apt's _apt sandbox user could not write there.
    'APT::Sandbox::User=root',
  ].flatMap((o) => ['-o', o]);
  const run = async (tool: string, args: string[], cwd?: string) => {
    const result = await execa(tool, [...options, ...args], { cwd, reject: false });
    if (result.exitCode !== 0) {
      throw new LabError(`lab: ${tool} ${args.join(' ')} (${spec.suite}) failed: ${firstLine(result.stderr) || `exit ${result.exitCode}`}`);
    }
    return result.stdout;
  };
  return { run };
}

/** `Depends: linux-image-6.1.0-41-cloud-amd64 (= 6.1.158-1)` → the versioned image package. */
function versionedImagePackage(showOutput: string, spec: KernelSpec): string {
  const depends = /^Depends: (.*)$/m.exec(showOutput)?.[1] ?? '';
  const pkg = depends
    .split(/,\s*/)
    .map((d) => d.split(/\s/)[0] ?? '')
    .find((d) => /^linux-image-\d\S*-cloud-amd64$/.test(d));
  if (!pkg) throw new LabError(`lab: ${metaPackage} in ${spec.suite} has no linux-image-*-cloud-amd64 dependency (Depends: ${depends})`);
  return pkg;
}

function configFlags(config: string): Pick<KernelInfo, 'softDirty' | 'thpDefault'> {
  const has = (option: string) => new RegExp(`^${option}=y$`, 'm').test(config);
  const thpDefault = has('CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS')
    ? 'always'
    : has('CONFIG_TRANSPARENT_HUGEPAGE_MADVISE')
      ? 'madvise'
      : has('CONFIG_TRANSPARENT_HUGEPAGE_NEVER')
        ? 'never'
        : 'unknown';
  return { softDirty: has('CONFIG_MEM_SOFT_DIRTY'), thpDefault };
}

/**
 * Returns the cached vmlinuz for `spec`, downloading it first if needed (or if `refresh`):
 * meta package → versioned linux-image package → `apt-get download` → only ./boot extracted
 * from the .deb (the modules are not needed: everything the lab uses is built in).
 */
export async function ensureKernel(spec: KernelSpec, options: { refresh?: boolean; log: (line: string) => void }): Promise<KernelInfo> {
  const dir = kernelCacheDir(spec);
  const cached = options.refresh ? undefined : readCachedInfo(dir);
  if (cached) return cached;

  const started = performance.now();
  options.log(`lab: fetching ${spec.suite} cloud kernel into ${path.relative(process.cwd(), dir) || dir}…`);
  fs.mkdirSync(dir, { recursive: true });
  const apt = privateApt(spec, dir);
  await apt.run('apt-get', ['-q', 'update']);
  const pkg = versionedImagePackage(await apt.run('apt-cache', ['show', '--no-all-versions', metaPackage]), spec);

  const work = fs.mkdtempSync(path.join(dir, 'download-'));
  try {
    await apt.run('apt-get', ['-q', 'download', pkg], work);
    const deb = fs.readdirSync(work).find((f) => f.endsWith('.deb'));
    if (!deb) throw new LabError(`lab: apt-get download ${pkg} produced no .deb`);
    const debPath = path.join(work, deb);
    const packageVersion = (await execa('dpkg-deb', ['-f', debPath, 'Version'])).stdout.trim();
    const extracted = path.join(work, 'root');
    fs.mkdirSync(extracted);
    await execa('sh', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards "./boot/*"', 'sh', debPath, extracted]);
    const bootDir = path.join(extracted, 'boot');
    const image = fs.readdirSync(bootDir).find((f) => f.startsWith('vmlinuz-'));
    if (!image) throw new LabError(`lab: ${pkg} contains no /boot/vmlinuz-*`);
    const release = image.slice('vmlinuz-'.length);
    if (!release.startsWith(spec.expectedSeries)) {
      options.log(`lab: warning: ${spec.suite} kernel is ${release}, expected ${spec.expectedSeries}x`);
    }
    const config = fs.readFileSync(path.join(bootDir, `config-${release}`), 'utf8');
    fs.copyFileSync(path.join(bootDir, `config-${release}`), path.join(dir, 'config'));
    fs.copyFileSync(path.join(bootDir, image), path.join(dir, 'vmlinuz.tmp'));
    fs.renameSync(path.join(dir, 'vmlinuz.tmp'), path.join(dir, 'vmlinuz'));

    const info: KernelInfo = {
      name: spec.name,
      suite: spec.suite,
      release,
      package: pkg,
      packageVersion,
      ...configFlags(config),
      fetchedAt: new Date().toISOString(),
      downloadSeconds: Math.round((performance.now() - started) / 100) / 10,
      vmlinuz: path.join(dir, 'vmlinuz'),
    };
    const { vmlinuz: _omit, ...stored } = info;
    fs.writeFileSync(path.join(dir, 'kernel.json'), JSON.stringify(stored, null, 2) + '\n');
    if (!info.softDirty) options.log(`lab: warning: ${release} lacks CONFIG_MEM_SOFT_DIRTY=y`);
    return info;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
