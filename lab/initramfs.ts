import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { labCacheDir, projectRoot } from './config.js';
import { CpioWriter } from './cpio.js';
import { isElf } from './elf.js';
import { LabError } from './errors.js';
import { busyboxPath, findInPath } from './host-tools.js';
import type { InitramfsExtra } from './criu-assets.js';

/** Bump when the image layout changes, so cached images are rebuilt. */
const LAYOUT_VERSION = 1;

/** Top-level project entries that never go into the guest. */
const EXCLUDED = new Set(['.git', '.cache', 'coverage']);

/** Where node lives in the guest; the shebang `#!/usr/bin/env node` finds it via PATH. */
const GUEST_NODE = '/usr/bin/node';

const initScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'init.sh');
const libDirs = ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu'];

interface ProjectEntry {
  rel: string;
  stat: fs.Stats;
}

/** Every file, directory and symlink of the project except EXCLUDED (symlinks are not followed). */
function walkProject(root = projectRoot, excluded = EXCLUDED): ProjectEntry[] {
  const entries: ProjectEntry[] = [];
  const walk = (rel: string) => {
    for (const dirent of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      if (rel === '' && excluded.has(dirent.name)) continue;
      const childRel = rel ? `${rel}/${dirent.name}` : dirent.name;
      const stat = fs.lstatSync(path.join(root, childRel));
      if (!(stat.isFile() || stat.isDirectory() || stat.isSymbolicLink())) continue; // sockets, fifos
      entries.push({ rel: childRel, stat });
      if (stat.isDirectory()) walk(childRel);
    }
  };
  walk('');
  return entries;
}

/**
 * Cache key from cheap metadata (path, mode, size, mtime) instead of content: hashing
 * ~200 MB would cost more than it saves. Host library dirs are included via their mtime,
 * which changes when apt replaces a library.
 */
function cacheKey(nodePath: string, entries: ProjectEntry[], extras: Array<{ guestDir: string; entries: ProjectEntry[] }>): string {
  const hash = crypto.createHash('sha256');
  hash.update(`v${LAYOUT_VERSION}\n`);
  hash.update(fs.readFileSync(initScript));
  for (const file of [nodePath, busyboxPath, ...libDirs]) {
    const s = fs.statSync(file);
    hash.update(`${file} ${s.size} ${s.mtimeMs}\n`);
  }
  for (const { rel, stat } of entries) hash.update(`${rel} ${stat.mode} ${stat.size} ${stat.mtimeMs}\n`);
  for (const extra of extras) {
    for (const { rel, stat } of extra.entries) hash.update(`extra ${extra.guestDir}/${rel} ${stat.mode} ${stat.size} ${stat.mtimeMs}\n`);
  }
  return hash.digest('hex').slice(0, 16);
}

/** Native code in the project: workloads/bin/*, build/Release/*.node, prebuilt .node/.so in node_modules. */
function projectElfFiles(entries: ProjectEntry[]): string[] {
  return entries
    .filter(({ rel, stat }) => stat.isFile() && (stat.mode & 0o111 || /\.node$|\.so(\.\d+)*$/.test(rel)))
    .map(({ rel }) => path.join(projectRoot, rel))
    .filter((file) => isElf(file));
}

/** Shared libraries (with ld.so) the given ELF files need, as paths `ldd` reports them. */
async function sharedLibraries(elfFiles: string[], log: (line: string) => void): Promise<string[]> {
  const libs = new Set<string>();
  // ldd exits non-zero when one of the files is static; its output is still complete.
  const { stdout } = await execa('ldd', elfFiles, { reject: false, env: { LC_ALL: 'C' } });
  for (const line of stdout.split('\n')) {
    const found = /(?:=>\s+)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (found?.[1]) libs.add(found[1]);
    else if (/=>\s+not found/.test(line)) log(`lab: warning: ldd: ${line.trim()} (needed by a project binary)`);
  }
  return [...libs].sort();
}

/**
 * Deletes older images (~212 MiB each). Ones touched in the last minutes may belong to a
 * concurrent run that is about to start QEMU (which reads the file once at start), so
 * they stay until a later build.
 */
function removeStaleImages(dir: string, keep: string): void {
  const cutoff = Date.now() - 5 * 60_000;
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    if (file === keep || !/\.cpio(\.\d+\.tmp)?$/.test(name)) continue;
    try {
      if (fs.statSync(file).mtimeMs < cutoff) fs.rmSync(file, { force: true });
    } catch {
      // removed concurrently
    }
  }
}

export interface Initramfs {
  file: string;
  /** False when a cached image was reused. */
  built: boolean;
  seconds: number;
  bytes: number;
}

/**
 * Returns an uncompressed newc initramfs with busybox, /init, node and its libraries, and
 * the project at /project. Uncompressed because the guest (TCG) unpacks it far faster
 * than it could gunzip it; see lab/README.md for the measurements.
 */
export async function ensureInitramfs(log: (line: string) => void, extraDirs: InitramfsExtra[] = []): Promise<Initramfs> {
  const started = performance.now();
  const hostNode = findInPath('node');
  if (!hostNode) throw new LabError('lab: node not found in PATH');
  const nodePath = fs.realpathSync(hostNode);
  const entries = walkProject();
  const extras = extraDirs.map((e) => ({ ...e, entries: walkProject(e.hostDir, new Set()) }));
  const dir = path.join(labCacheDir, 'initramfs');
  const file = path.join(dir, `${cacheKey(nodePath, entries, extras)}.cpio`);
  const elapsed = () => Math.round(performance.now() - started) / 1000;
  if (fs.existsSync(file)) {
    const now = new Date();
    fs.utimesSync(file, now, now); // marks it in use for removeStaleImages
    return { file, built: false, seconds: elapsed(), bytes: fs.statSync(file).size };
  }

  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const cpio = new CpioWriter(tmp);
  try {
    for (const d of ['proc', 'sys', 'dev', 'run', 'etc', 'mnt', 'project']) cpio.dir(d);
    cpio.dir('tmp', 0o1777);
    cpio.dir('root', 0o700);
    // The kernel opens /dev/console for /init before devtmpfs is mounted.
    cpio.charDevice('dev/console', 5, 1);
    cpio.charDevice('dev/null', 1, 3, 0o666);

    cpio.file('bin/busybox', fs.readFileSync(busyboxPath), 0o755);
    const applets = (await execa(busyboxPath, ['--list-full'])).stdout.split('\n').filter(Boolean);
    for (const applet of applets) if (applet !== 'bin/busybox') cpio.symlink(applet, '/bin/busybox');
    cpio.file('init', fs.readFileSync(initScript), 0o755);

    cpio.file('etc/passwd', Buffer.from('root:x:0:0:root:/root:/bin/sh\n'));
    cpio.file('etc/group', Buffer.from('root:x:0:\n'));
    cpio.file('etc/hosts', Buffer.from('127.0.0.1 localhost\n::1 localhost\n'));

    cpio.file(GUEST_NODE, fs.readFileSync(nodePath), 0o755);
    const libs = await sharedLibraries([nodePath, ...projectElfFiles(entries)], log);
    // Stored as regular files at the path ldd printed (e.g. /lib64/ld-linux-x86-64.so.2,
    // which is a symlink chain on the host), so ld.so finds them without a cache.
    for (const lib of libs) cpio.file(lib, fs.readFileSync(lib), 0o755);

    for (const { rel, stat } of entries) {
      const abs = path.join(projectRoot, rel);
      const guest = `project/${rel}`;
      if (stat.isDirectory()) cpio.dir(guest, stat.mode & 0o7777);
      else if (stat.isSymbolicLink()) cpio.symlink(guest, fs.readlinkSync(abs));
      else cpio.file(guest, fs.readFileSync(abs), stat.mode, Math.floor(stat.mtimeMs / 1000));
    }
    // Extra trees (lab/criu-assets.ts: CRIU under /opt/criu, kernel modules) at their guest paths.
    for (const extra of extras) {
      for (const { rel, stat } of extra.entries) {
        const abs = path.join(extra.hostDir, rel);
        const guest = extra.guestDir ? `${extra.guestDir}/${rel}` : rel;
        if (stat.isDirectory()) cpio.dir(guest, stat.mode & 0o7777);
        else if (stat.isSymbolicLink()) cpio.symlink(guest, fs.readlinkSync(abs));
        else cpio.file(guest, fs.readFileSync(abs), stat.mode);
      }
    }
    cpio.close();
  } catch (error) {
    fs.rmSync(tmp, { force: true });
    throw error;
  }
  fs.renameSync(tmp, file);
  removeStaleImages(dir, file);
  return { file, built: true, seconds: elapsed(), bytes: fs.statSync(file).size };
}
