/**
 * uffd-wp: dirty tracking without soft-dirty, for kernels built without CONFIG_MEM_SOFT_DIRTY.
 *
 * Attach. The tracker makes the target create a userfaultfd (one system call injected under ptrace,
 * src/backends/uffd-wp/inject.ts: `userfaultfd(O_CLOEXEC|O_NONBLOCK)`, retried with UFFD_USER_MODE_ONLY when
 * vm.unprivileged_userfaultfd forbids the plain form), then takes a copy with pidfd_open +
 * pidfd_getfd. A userfaultfd acts on the mm that created it, so every ioctl made here acts on the
 * target. UFFDIO_API enables UFFD_FEATURE_WP_ASYNC (6.7: write faults on protected pages are
 * resolved by the kernel itself: the target never blocks and nobody reads the descriptor) and
 * UFFD_FEATURE_WP_UNPOPULATED (6.4: markers on unpopulated anonymous pages, which PAGEMAP_SCAN needs
 * to accept anonymous VMAs). A later tracker process (`dirtytrack clear`, then `scan`) finds the
 * descriptor again in /proc/PID/fd: anon_inode:[userfaultfd] whose fdinfo shows exactly these two
 * features.
 *
 * Tracking this process itself (pid = process.pid) needs no ptrace: the descriptor is created here,
 * and as it is the only copy, release() ends tracking as close() does.
 *
 * Regions. Writable private mappings (anonymous, heap, stacks, private file mappings) and anonymous
 * shared ones (shmem, memfd) are registered with UFFDIO_REGISTER_MODE_WP. Not registered, and listed
 * in `skipped` with the reason: shared file mappings (their pages live in the page cache, written
 * through other mappings and write(2) too), kernel-provided mappings ([vdso], [vvar], [vsyscall]),
 * read-only and PROT_NONE mappings (the process cannot write them; a region that was registered while
 * writable stays registered and is still scanned), mappings the kernel refuses (MAP_DROPPABLE,
 * another userfaultfd's), and writable mappings over 64 GiB (protecting them installs a marker in
 * every page-table entry: 2 MiB of page tables per GiB, in the target).
 *
 * clear() = UFFDIO_WRITEPROTECT over each region: present pages lose write permission, unpopulated
 * ones get a marker. scan() = PAGEMAP_SCAN with category PAGE_IS_WRITTEN (not write-protected);
 * with `reset`, PM_SCAN_WP_MATCHING re-protects each written page atomically as it is read, so no
 * write is lost between reading and resetting and the target need not be frozen. Every scan passes
 * PM_SCAN_CHECK_WPASYNC: a region not registered (new since the last scan: mmap, heap growth,
 * mremap, which drops registration) fails with EPERM, is registered there and then, and is scanned
 * again in the same round. Its pages have never been protected, so they all read as written: the
 * round it appears in reports its whole populated part as dirty. Never silently missed.
 *
 * Populated only, as for soft-dirty: a written page counts when present or swapped. Recent kernels
 * (6.18 here) also count unprotected holes as written: the unpopulated part of a new mapping, and
 * pages MADV_DONTNEED discarded (anonymous zaps leave no marker). The kernel matches and protects
 * them; the answer drops them unless `includeUnpopulated`.
 *
 * Granularity: a written transparent huge page is reported whole (512 pages).
 *
 * close() unregisters every region, closes our copy, and injects close(fd) into the target (skipped
 * quietly when it has exited), leaving it as it was. release() closes only our copy: tracking stays
 * armed in the target for the next tracker process.
 *
 * If the tracker is killed (SIGKILL) without close(): the descriptor stays open inside the target with
 * its regions registered in async write-protect mode. The target keeps running normally: async
 * write faults never block; each first write to a protected page costs one minor fault, and the
 * protected regions cannot merge with neighbouring mappings. `dirtytrack detach <pid>` (detachUffd)
 * finds the descriptor, unregisters and closes it. The ptrace work of an injection runs in a forked
 * helper that restores the target and detaches even if the tracker dies meanwhile; only killing that
 * helper itself mid-step (microseconds) would leave the target with the injection's registers. A
 * tracker killed between creating the descriptor and its UFFDIO_API leaves an idle userfaultfd
 * without features in the target (harmless, nothing registered; detach does not recognise it).
 */
import { closeSync, fstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { codeForErrno, DirtyTrackError, fromSystemError, noSuchProcess } from '../../errors.js';
import { describeResult, injectSyscall, SYS } from './inject.js';
import { readMaps, unscannableReason } from '../../proc/maps.js';
import { kernelRelease } from '../../kernel/info.js';
import { isNativeError, nativeFailure, requireNative, type NativeBinding } from '../../native/binding.js';
import { EPERM, PagemapScanner, rangeError, SCAN_WRITTEN, SCAN_WRITTEN_POPULATED, ScanAborted, scanFailure, type RangeWalk, type ScanQuery } from '../../proc/pagemap-ioctl.js';
import { O_CLOEXEC, O_NONBLOCK, PM_SCAN_CHECK_WPASYNC, PM_SCAN_WP_MATCHING, TRACKER_FEATURES, UFFD_FEATURE_INITIALIZED, UFFD_USER_MODE_ONLY, UFFDIO_REGISTER_MODE_WP } from '../../kernel/abi.js';
import { probeUffdWp, userfaultfdHere } from '../../kernel/features.js';
import { countRuns, mergeRuns } from '../../ranges.js';
import { clipRegion, makeScanResult, regionResult, scanParts } from '../../scan-result.js';
import type { Backend, MapsRegion, RegionResult, Runs, ScanOptions, ScanResult, SkippedRegion } from '../../types.js';

/** Writable regions larger than this are skipped: markers would need size / 512 bytes of page tables. */
export const MAX_REGISTER_BYTES = 64n << 30n;

/** register: writable, register it. scanIfRegistered: never registered here, but scanned when an earlier
 * registration survives (a mapping made read-only after registration may hold writes). */
export type UffdPolicy = { action: 'register' } | { action: 'skip' | 'scanIfRegistered'; reason: string };

/** Whether this backend registers region `r`, or why not. */
export function uffdRegionPolicy(r: MapsRegion): UffdPolicy {
  const unscannable = unscannableReason(r);
  if (unscannable) return { action: 'skip', reason: unscannable };
  const special = r.path.startsWith('[') && !/^\[(heap|stack|anon:|anon_shmem:)/.test(r.path);
  if (special) return { action: 'skip', reason: `kernel-provided mapping ${r.path}: userfaultfd cannot track it` };
  const shared = r.perms[3] === 's';
  if (shared && !isAnonShared(r)) return { action: 'skip', reason: 'shared file mapping: its pages live in the page cache (written through other mappings and write(2) too); not tracked' };
  if (r.perms[1] !== 'w') return { action: 'scanIfRegistered', reason: r.perms.startsWith('---') ? 'PROT_NONE: not accessible' : 'read-only: the process cannot write it' };
  if (r.end - r.start > MAX_REGISTER_BYTES) return { action: 'skip', reason: `over ${MAX_REGISTER_BYTES >> 30n} GiB: write-protecting it would add ${pageTableMiB(r.end - r.start)} MiB of page tables to the target` };
  return { action: 'register' };
}

/** Page-table memory that markers in every entry of `bytes` of address space take: one 8-byte entry per 4 KiB page. */
const pageTableMiB = (bytes: bigint): bigint => bytes / 512n / (1n << 20n);

/** shmem without a file on disk: MAP_SHARED|MAP_ANONYMOUS, SysV shm, memfd. */
function isAnonShared(r: MapsRegion): boolean {
  return (r.path === '/dev/zero' && r.deleted) || r.path.startsWith('/SYSV') || r.path.startsWith('[anon_shmem:') || r.path.startsWith('/memfd:');
}

/** Why UFFDIO_REGISTER refused, in words; undefined for errors that are not about the region. */
function registerRefusal(code: string): string | undefined {
  switch (code) {
    case 'EBUSY': return 'registered with another userfaultfd (the process uses userfaultfd itself)';
    case 'EINVAL': return 'userfaultfd refuses this kind of mapping (e.g. MAP_DROPPABLE, VM_PFNMAP, a misaligned hugetlb range)';
    case 'EPERM': return 'shared mapping of a file not opened for writing';
    case 'ENOMEM':
    case 'ENOENT': return 'unmapped while being registered';
    default: return undefined;
  }
}

/* ---------------- the descriptor inside the target ---------------- */

const { errno } = constants;

export interface TargetUffd {
  /** Descriptor number in the target. */
  fd: number;
  ino: number;
  features: bigint;
}

/** The userfaultfds in `pid` that this tracker created (features exactly TRACKER_FEATURES). */
export function findTrackerUffds(pid: number): TargetUffd[] {
  let names: string[];
  try {
    names = readdirSync(`/proc/${pid}/fd`);
  } catch (err) {
    throw fromSystemError(err, `cannot list /proc/${pid}/fd`, pid, `/proc/${pid}/fd`);
  }
  const found: TargetUffd[] = [];
  for (const name of names) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${name}`) !== 'anon_inode:[userfaultfd]') continue;
      const info = readFileSync(`/proc/${pid}/fdinfo/${name}`, 'utf8');
      // API:\t<api>:<features>:<ioctls>, all hex (fs/userfaultfd.c, userfaultfd_show_fdinfo)
      const m = /^API:\s*[0-9a-f]+:([0-9a-f]+):/m.exec(info);
      if (!m) continue;
      const features = BigInt('0x' + m[1]) & ~UFFD_FEATURE_INITIALIZED;
      if (features !== TRACKER_FEATURES) continue;
      found.push({ fd: Number(name), ino: statSync(`/proc/${pid}/fd/${name}`).ino, features });
    } catch {
      // closed meanwhile: not ours to worry about
    }
  }
  return found;
}

/** A copy here of descriptor `targetFd` of `pid`. */
function takeDescriptor(pid: number, targetFd: number): number {
  const binding = requireNative('uffd-wp');
  let pidfd: number;
  try {
    pidfd = binding.pidfdOpen(pid);
  } catch (err) {
    throw processFailure(err, `pidfd_open(${pid})`, pid);
  }
  try {
    return binding.pidfdGetfd(pidfd, targetFd);
  } catch (err) {
    throw processFailure(err, `pidfd_getfd(${pid}, ${targetFd})`, pid);
  } finally {
    closeSync(pidfd);
  }
}

function processFailure(err: unknown, what: string, pid: number): DirtyTrackError {
  if (isNativeError(err) && err.code === 'ESRCH') return noSuchProcess(pid, what, { cause: err });
  if (isNativeError(err) && (err.code === 'EPERM' || err.code === 'EACCES')) {
    return new DirtyTrackError(err.code, `permission denied: ${what}; needs the right to ptrace ${pid} (root or CAP_SYS_PTRACE)`, { pid, syscall: err.syscall, cause: err });
  }
  return nativeFailure(err, what, pid);
}

/** Create a userfaultfd inside `pid`; returns its number there. */
function createInTarget(pid: number): number {
  const flags = BigInt(O_CLOEXEC | O_NONBLOCK);
  let r = injectSyscall(pid, SYS.userfaultfd, [flags]);
  if (r === -1n) r = injectSyscall(pid, SYS.userfaultfd, [flags | BigInt(UFFD_USER_MODE_ONLY)]); // EPERM: vm.unprivileged_userfaultfd = 0
  if (r >= 0n) return Number(r);
  const name = describeResult(r);
  const hint = name === 'ENOSYS' ? 'kernel built without CONFIG_USERFAULTFD' : name === 'EPERM' ? 'forbidden by vm.unprivileged_userfaultfd or a seccomp filter in the target' : 'the call failed in the target';
  throw new DirtyTrackError(codeForErrno(name), `userfaultfd() failed inside ${pid}: ${name} (${hint})`, { pid, syscall: 'userfaultfd' });
}

/** Close descriptor `targetFd` inside `pid`, if it is still the file with inode `ino`. Quiet when the process is gone. */
function closeInTarget(pid: number, targetFd: number, ino: number): void {
  try {
    if (statSync(`/proc/${pid}/fd/${targetFd}`).ino !== ino) return; // closed (and the number reused) by the target itself
  } catch {
    return; // the process or the descriptor is gone
  }
  try {
    const r = injectSyscall(pid, SYS.close, [BigInt(targetFd)]);
    if (r < 0n && r !== -BigInt(errno.EBADF)) throw new DirtyTrackError(codeForErrno(describeResult(r)), `close(${targetFd}) failed inside ${pid}: ${describeResult(r)}`, { pid });
  } catch (err) {
    if (err instanceof DirtyTrackError && err.code === 'ESRCH') return;
    throw err;
  }
}

/** Unregister every registrable region of `pid` from `fd`; errors are ignored (regions vanish). */
function unregisterAll(fd: number, pid: number): void {
  const binding = requireNative('uffd-wp');
  let maps: MapsRegion[];
  try {
    maps = readMaps(pid);
  } catch {
    return;
  }
  for (const r of maps) {
    if (unscannableReason(r) || (r.perms[3] === 's' && !isAnonShared(r))) continue;
    try {
      binding.uffdUnregister(fd, r.start, r.end - r.start);
    } catch {
      // not registered, or gone
    }
  }
}

/** UFFDIO_API with the tracker's features on a descriptor just created. */
function handshake(binding: NativeBinding, fd: number, pid: number): void {
  let available: bigint | undefined;
  let failure: unknown;
  try {
    available = binding.uffdApi(fd, TRACKER_FEATURES);
  } catch (err) {
    failure = err;
  }
  if (available !== undefined && (available & TRACKER_FEATURES) === TRACKER_FEATURES) return;
  throw new DirtyTrackError(
    'ENOTSUP',
    `userfaultfd lacks UFFD_FEATURE_WP_ASYNC (Linux 6.7+) or UFFD_FEATURE_WP_UNPOPULATED (6.4+) on kernel ${kernelRelease()}${failure ? `: ${(failure as Error).message}` : ''}`,
    { pid, cause: failure },
  );
}

/* ---------------- the backend ---------------- */

/** Runs of several walks of one region (before and after registering it), merged and counted. */
function merged(...lists: Runs[]): { runs: Runs; count: number } {
  const runs = mergeRuns(...lists);
  return { runs, count: countRuns(runs) };
}

interface Candidate {
  region: MapsRegion;   // the whole mapping (registration covers whole VMAs)
  start: bigint;        // the part to scan (clipped to the requested range)
  end: bigint;
  /** False for a non-writable mapping: scanned only if it is already registered, never registered here. */
  mayRegister: boolean;
  /** Why it is not registered here (mayRegister false). */
  reason?: string;
}

export class UffdWpBackend implements Backend {
  readonly name = 'uffd-wp' as const;
  private readonly fd: number;
  private readonly targetFd: number;
  private readonly ino: number;
  private readonly scanner: PagemapScanner;
  private open = true;
  /** Whether this object created the descriptor (false: adopted from an earlier tracker process). */
  readonly created: boolean;

  constructor(readonly pid: number) {
    const binding = requireNative('the uffd-wp backend');
    // Ask this kernel first: never trace a target for a descriptor that cannot work.
    const probe = probeUffdWp();
    if (!probe.works) throw new DirtyTrackError('ENOTSUP', `the uffd-wp backend does not work on kernel ${kernelRelease()}: ${probe.reason}`, { pid });
    this.scanner = new PagemapScanner(pid);
    let fd = -1;
    let targetFd = -1;
    let created = false;
    const self = pid === process.pid;
    try {
      const existing = self ? undefined : findTrackerUffds(pid)[0];
      if (self) {
        // Tracking this process itself: the descriptor is made here, without ptrace.
        targetFd = fd = userfaultfdHere(binding);
        created = true;
        handshake(binding, fd, pid);
      } else if (existing) {
        targetFd = existing.fd;
        fd = takeDescriptor(pid, targetFd);
      } else {
        targetFd = createInTarget(pid);
        created = true;
        fd = takeDescriptor(pid, targetFd);
        handshake(binding, fd, pid);
      }
    } catch (err) {
      if (fd >= 0) closeSync(fd);
      if (created && !self) {
        try {
          injectSyscall(pid, SYS.close, [BigInt(targetFd)]); // just created: still ours
        } catch {
          // gone, or cannot be traced any more: detach can remove it later
        }
      }
      this.scanner.close();
      throw err;
    }
    this.fd = fd;
    this.targetFd = targetFd;
    this.created = created;
    this.ino = fstatSync(fd).ino;
  }

  /** Reset: write-protect every region (registering those not yet registered). */
  clear(): void {
    this.ensureOpen();
    const binding = requireNative('uffd-wp');
    const { candidates } = this.candidates(readMaps(this.pid));
    for (const c of candidates) {
      if (!c.mayRegister && !this.scanner.wpAllowed(c.region.start, c.region.end)) continue;
      const len = c.region.end - c.region.start;
      try {
        binding.uffdWriteprotect(this.fd, c.region.start, len, true);
      } catch (err) {
        if (!isNativeError(err)) throw err;
        if (err.code === 'ESRCH') throw noSuchProcess(this.pid, 'exited during clear', { cause: err });
        if (err.code !== 'ENOENT' || !c.mayRegister) continue; // ENOENT: not registered
        if (this.register(c.region) !== null) continue;
        try {
          binding.uffdWriteprotect(this.fd, c.region.start, len, true);
        } catch (again) {
          if (isNativeError(again) && again.code === 'ESRCH') throw noSuchProcess(this.pid, 'exited during clear', { cause: again });
          // changed again meanwhile: the next scan registers it and reports it whole
        }
      }
    }
  }

  scan(opts: ScanOptions = {}): ScanResult {
    this.ensureOpen();
    const started = process.hrtime.bigint();
    const { candidates, skipped } = this.candidates(readMaps(this.pid), opts);
    const query: ScanQuery = { ...(opts.includeUnpopulated ? SCAN_WRITTEN : SCAN_WRITTEN_POPULATED), flags: PM_SCAN_CHECK_WPASYNC | (opts.reset ? PM_SCAN_WP_MATCHING : 0) };
    // Every candidate in one walk; a mapping without async uffd-wp stops only its own range (EPERM).
    const bounds = new BigUint64Array(2 * candidates.length);
    candidates.forEach((c, i) => bounds.set([c.start, c.end], 2 * i));
    let walk: ReturnType<PagemapScanner['scanRanges']>;
    try {
      walk = this.scanner.scanRanges(bounds, query);
    } catch (err) {
      throw scanFailure(err, this.pid);
    }
    const regions: RegionResult[] = [];
    candidates.forEach((c, i) => {
      const r = this.settle(c, walk.ranges[i], query);
      if (r.runs.length > 0 || r.reason === undefined) regions.push(regionResult(clipRegion(c.region, c.start, c.end), r.runs, r.count));
      if (r.reason !== undefined) skipped.push({ region: c.region, reason: r.reason });
    });
    return makeScanResult(this.pid, this.name, regions, skipped, started);
  }

  /**
   * The written pages of one candidate from its part of the walk. A range without async uffd-wp
   * failed with EPERM (after the kernel had handed over, and with WP_MATCHING protected, what it
   * walked before): a writable one is registered and scanned again, and both answers are kept; one
   * never registered here is reported as skipped.
   */
  private settle(c: Candidate, walked: RangeWalk, query: ScanQuery): { runs: Runs; count: number; reason?: string } {
    if (!walked.errno) return walked;
    if (walked.errno !== EPERM) throw scanFailure(rangeError(walked), this.pid);
    if (!c.mayRegister) return { ...walked, reason: c.reason };
    const refused = this.register(c.region);
    if (refused !== null) return { ...walked, reason: refused };
    try {
      return merged(walked.runs, this.scanner.scan(c.start, c.end, query).runs);
    } catch (err) {
      if (!(err instanceof ScanAborted) || err.cause.code !== 'EPERM') throw scanFailure(err, this.pid);
      return { ...merged(walked.runs, err.partial.runs), reason: 'remapped while being scanned (reported at the next scan)' };
    }
  }

  /** Register a whole mapping; null on success, else why not. */
  private register(r: MapsRegion): string | null {
    const binding = requireNative('uffd-wp');
    try {
      binding.uffdRegister(this.fd, r.start, r.end - r.start, UFFDIO_REGISTER_MODE_WP);
      return null;
    } catch (err) {
      if (!isNativeError(err)) throw err;
      if (err.code === 'ESRCH') throw noSuchProcess(this.pid, 'exited during the scan', { cause: err });
      const why = registerRefusal(err.code);
      if (why) return why;
      throw nativeFailure(err, `UFFDIO_REGISTER 0x${r.start.toString(16)}-0x${r.end.toString(16)} in ${this.pid}`, this.pid);
    }
  }

  /** Parts of regions to scan (scan-result.ts scanParts: range and --region) and regions skipped with the reason. */
  private candidates(maps: MapsRegion[], opts: Pick<ScanOptions, 'range' | 'select'> = {}): { candidates: Candidate[]; skipped: SkippedRegion[] } {
    const candidates: Candidate[] = [];
    const skipped: SkippedRegion[] = [];
    for (const r of maps) {
      const parts = scanParts(r, opts);
      if (parts.length === 0) continue;
      const policy = uffdRegionPolicy(r);
      if (policy.action === 'skip') {
        skipped.push({ region: r, reason: policy.reason });
        continue;
      }
      for (const p of parts) candidates.push({ region: r, start: p.start, end: p.end, mayRegister: policy.action === 'register', reason: policy.action === 'register' ? undefined : policy.reason });
    }
    return { candidates, skipped };
  }

  private ensureOpen(): void {
    if (!this.open) throw new DirtyTrackError('EBADF', `uffd-wp tracking of ${this.pid} is closed`, { pid: this.pid });
  }

  /** Stop tracking: unregister, close our copy, close the target's descriptor. */
  close(): void {
    if (!this.open) return;
    this.dispose(true);
  }

  /** Close only our copy; the target keeps its descriptor and its regions stay armed. */
  release(): void {
    if (!this.open) return;
    this.open = false;
    closeSync(this.fd);
    this.scanner.close();
  }

  private dispose(unregister: boolean): void {
    this.open = false;
    try {
      if (unregister) unregisterAll(this.fd, this.pid);
    } finally {
      closeSync(this.fd);
      this.scanner.close();
    }
    if (this.pid !== process.pid) closeInTarget(this.pid, this.targetFd, this.ino);
  }
}

/**
 * `dirtytrack detach <pid>`: remove what uffd-wp left in `pid` (after release(), or a tracker killed
 * with SIGKILL): unregister and close every descriptor this tracker created there. False when none.
 */
export function detachUffd(pid: number): boolean {
  requireNative('detach');
  const found = findTrackerUffds(pid);
  for (const u of found) {
    const fd = takeDescriptor(pid, u.fd);
    try {
      unregisterAll(fd, pid);
    } finally {
      closeSync(fd);
    }
    closeInTarget(pid, u.fd, u.ino);
  }
  return found.length > 0;
}
