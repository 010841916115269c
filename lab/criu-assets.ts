/**
 * CRIU in the lab guest (`--criu`): Debian 12's `criu` package with the libraries it needs, unpacked
 * (never installed) under /opt/criu, and the kernel modules CRIU's feature checks need, taken from the
 * guest kernel's own package. Both are fetched on first use into `.cache/lab/` and added to the
 * initramfs; lab/init.sh loads the modules listed in lab-modules.order at boot.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { kernels, labCacheDir, type KernelSpec } from './config.js';
import { LabError } from './errors.js';
import { kernelCacheDir, privateApt, type KernelInfo } from './kernel-fetch.js';

/** A host directory copied into the initramfs at `guestDir`. */
export interface InitramfsExtra {
  hostDir: string;
  guestDir: string;
}

/** `criu check` fails on netfilter feature detection without nf_tables; dump of sockets needs the diag modules. */
const WANTED_MODULES = ['nf_tables', 'nfnetlink', 'libcrc32c', 'inet_diag', 'tcp_diag', 'udp_diag', 'raw_diag', 'unix_diag', 'af_packet_diag', 'netlink_diag'];
/** Libraries the host's glibc provides in the guest: never mix another libc with the host's ld.so. */
const HOST_PROVIDED = new Set(['libc6', 'libgcc-s1']);
const HOST_LIB_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu'];

const exists = (p: string) => fs.existsSync(p);

/** apt with the suite's lists, updating them once when the package is unknown (a fresh cache). */
async function aptFor(spec: KernelSpec, probe: string) {
  const apt = privateApt(spec, kernelCacheDir(spec));
  try {
    await apt.run('apt-cache', ['show', '--no-all-versions', probe]);
  } catch {
    await apt.run('apt-get', ['-q', 'update']);
  }
  return apt;
}

/** criu, then the lib* packages it depends on, recursively (python and libc excluded). */
async function libraryClosure(apt: Awaited<ReturnType<typeof aptFor>>): Promise<string[]> {
  const seen = new Set<string>(['criu']);
  const queue = ['criu'];
  while (queue.length) {
    const pkg = queue.shift()!;
    const out = await apt.run('apt-cache', ['depends', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances', pkg]);
    for (const m of out.matchAll(/^\s+\|?(?:Pre)?Depends: ([^\s<>]+)$/gm)) {
      const dep = m[1]!;
      if (!dep.startsWith('lib') || HOST_PROVIDED.has(dep) || seen.has(dep)) continue;
      seen.add(dep);
      queue.push(dep);
    }
  }
  return [...seen];
}

/** ELF files under `dir` (regular files, not symlinks). */
async function elfFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const rel of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const abs = path.join(dir, rel);
    const st = fs.lstatSync(abs);
    if (!st.isFile() || st.size < 4) continue;
    const head = Buffer.alloc(4);
    const fd = fs.openSync(abs, 'r');
    fs.readSync(fd, head, 0, 4, 0);
    fs.closeSync(fd);
    if (head.toString('latin1') === '\x7fELF') files.push(abs);
  }
  return files;
}

/**
 * Every NEEDED soname of the unpacked ELF files must be in the tree or be one of the host's glibc/gcc
 * libraries (copied in, so the guest has them even if node does not need them).
 */
async function checkLibraries(root: string): Promise<void> {
  const libDir = path.join(root, 'usr/lib/x86_64-linux-gnu');
  const have = new Set([...fs.readdirSync(path.join(root, 'lib/x86_64-linux-gnu')), ...fs.readdirSync(libDir)]);
  for (const file of await elfFiles(root)) {
    const { stdout } = await execa('readelf', ['-d', file], { env: { LC_ALL: 'C' } });
    for (const m of stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)) {
      const soname = m[1]!;
      if (have.has(soname)) continue;
      const host = HOST_LIB_DIRS.map((d) => path.join(d, soname)).find(exists);
      if (!host) throw new LabError(`lab: CRIU needs ${soname} (${path.relative(root, file)}): in no downloaded package and not on the host`);
      fs.copyFileSync(fs.realpathSync(host), path.join(libDir, soname));
      have.add(soname);
    }
  }
}

/** .cache/lab/criu/guest: opt/criu (the unpacked packages) and usr/local/sbin/criu (a wrapper). */
async function ensureCriuTree(log: (line: string) => void): Promise<{ dir: string; version: string }> {
  const base = path.join(labCacheDir, 'criu');
  const stamp = path.join(base, 'criu.json');
  if (exists(stamp)) return { dir: path.join(base, 'guest'), version: JSON.parse(fs.readFileSync(stamp, 'utf8')).version };
  log('lab: fetching CRIU (Debian 12 package and its libraries) into .cache/lab/criu…');
  const apt = await aptFor(kernels.deb12, 'criu');
  const packages = await libraryClosure(apt);
  fs.rmSync(base, { recursive: true, force: true });
  const debs = path.join(base, 'debs');
  const root = path.join(base, 'guest', 'opt', 'criu');
  fs.mkdirSync(debs, { recursive: true });
  fs.mkdirSync(path.join(root, 'lib/x86_64-linux-gnu'), { recursive: true });
  fs.mkdirSync(path.join(root, 'usr/lib/x86_64-linux-gnu'), { recursive: true });
  await apt.run('apt-get', ['-q', 'download', ...packages], debs);
  for (const deb of fs.readdirSync(debs)) await execa('dpkg-deb', ['-x', path.join(debs, deb), root]);
  const version = (await execa('dpkg-deb', ['-f', path.join(debs, fs.readdirSync(debs).find((d) => d.startsWith('criu_'))!), 'Version'])).stdout.trim();
  await checkLibraries(root);
  fs.rmSync(path.join(root, 'usr/share'), { recursive: true, force: true }); // docs, python: not used
  const wrapper = path.join(base, 'guest', 'usr/local/sbin/criu');
  fs.mkdirSync(path.dirname(wrapper), { recursive: true });
  fs.writeFileSync(wrapper, '#!/bin/sh\nLD_LIBRARY_PATH=/opt/criu/lib/x86_64-linux-gnu:/opt/criu/usr/lib/x86_64-linux-gnu exec /opt/criu/usr/sbin/criu "$@"\n', { mode: 0o755 });
  fs.rmSync(debs, { recursive: true, force: true });
  fs.writeFileSync(stamp, JSON.stringify({ version, packages }, null, 2) + '\n');
  return { dir: path.join(base, 'guest'), version };
}

/** The `depends=` field of a module's .modinfo section. */
function moduleDepends(ko: Buffer): string[] {
  const m = /\0depends=([^\0]*)\0/.exec(ko.toString('latin1'));
  return m?.[1] ? m[1].split(',').filter(Boolean) : [];
}

/** .cache/lab/<kernel>/modules/<release>: WANTED_MODULES and their dependencies, uncompressed, with lab-modules.order. */
async function ensureModules(spec: KernelSpec, kernel: KernelInfo, log: (line: string) => void): Promise<string> {
  const dir = path.join(kernelCacheDir(spec), 'modules');
  const releaseDir = path.join(dir, kernel.release);
  if (exists(path.join(releaseDir, 'lab-modules.order'))) return dir;
  log(`lab: fetching modules for CRIU from ${kernel.package} ${kernel.packageVersion}…`);
  const apt = await aptFor(spec, kernel.package);
  const work = fs.mkdtempSync(path.join(kernelCacheDir(spec), 'modules-'));
  try {
    await apt.run('apt-get', ['-q', 'download', `${kernel.package}=${kernel.packageVersion}`], work);
    const deb = path.join(work, fs.readdirSync(work).find((f) => f.endsWith('.deb'))!);
    await execa('sh', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards "*/modules/*"', 'sh', deb, work]);
    const found = new Map<string, string>(); // module name → extracted file
    for (const rel of fs.readdirSync(work, { recursive: true }) as string[]) {
      const m = /([^/]+)\.ko(\.xz|\.zst|\.gz)?$/.exec(rel);
      if (m) found.set(m[1]!.replace(/-/g, '_'), path.join(work, rel));
    }
    const order: string[] = [];
    const load = async (name: string, chain: string[]): Promise<void> => {
      if (order.includes(name)) return;
      if (chain.includes(name)) throw new LabError(`lab: module dependency cycle ${[...chain, name].join(' → ')}`);
      const file = found.get(name);
      if (!file) throw new LabError(`lab: ${kernel.package} has no module ${name}`);
      const ko = file.endsWith('.xz') ? (await execa('xz', ['-dc', file], { encoding: 'buffer' })).stdout
        : file.endsWith('.zst') ? (await execa('zstd', ['-dc', file], { encoding: 'buffer' })).stdout
        : file.endsWith('.gz') ? (await execa('gzip', ['-dc', file], { encoding: 'buffer' })).stdout
        : fs.readFileSync(file);
      for (const dep of moduleDepends(Buffer.from(ko))) await load(dep.replace(/-/g, '_'), [...chain, name]);
      fs.mkdirSync(path.join(work, 'out'), { recursive: true });
      fs.writeFileSync(path.join(work, 'out', `${name}.ko`), ko);
      order.push(name);
    };
    for (const name of WANTED_MODULES) await load(name, []);
    fs.writeFileSync(path.join(work, 'out', 'lab-modules.order'), order.map((n) => `${n}.ko`).join('\n') + '\n');
    fs.rmSync(releaseDir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    fs.renameSync(path.join(work, 'out'), releaseDir);
    return dir;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** What `--criu` adds to the initramfs for this kernel. */
export async function criuExtras(spec: KernelSpec, kernel: KernelInfo, log: (line: string) => void): Promise<InitramfsExtra[]> {
  const tree = await ensureCriuTree(log);
  const modules = await ensureModules(spec, kernel, log);
  return [
    { hostDir: tree.dir, guestDir: '' },
    { hostDir: modules, guestDir: 'lib/modules' },
  ];
}
