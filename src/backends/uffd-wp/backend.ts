/**
 * uffd-wp: dirty tracking without soft-dirty, for kernels built without CONFIG_MEM_SOFT_DIRTY.
 *
 * Attach (target-fd.ts). The tracker makes the target create a userfaultfd (one system call injected
 * under ptrace, inject.ts: `userfaultfd(O_CLOEXEC|O_NONBLOCK)`, retried with UFFD_USER_MODE_ONLY when
 * vm.unprivileged_userfaultfd forbids the plain form; refused when the target's seccomp filters would
 * not answer it with ALLOW or ERRNO, proc/seccomp.ts), then takes a copy with pidfd_open +
 * pidfd_getfd. A userfaultfd acts on the mm that created it, so every ioctl made here acts on the
 * target; one a child inherited at fork acts on its parent and is never used. UFFDIO_API enables UFFD_FEATURE_WP_ASYNC (6.7: write faults on protected pages are
 * resolved by the kernel itself: the target never blocks and nobody reads the descriptor) and
 * UFFD_FEATURE_WP_UNPOPULATED (6.4: markers on unpopulated anonymous pages, which PAGEMAP_SCAN needs
 * to accept anonymous VMAs). A later tracker process (`dirtytrack clear`, then `scan`) finds the
 * descriptor again in /proc/PID/fd: anon_inode:[userfaultfd] whose fdinfo shows exactly these two
 * features.
 *
 * Tracking this process itself (pid = process.pid) needs no ptrace: the descriptor is created here,
 * and as it is the only copy, release() ends tracking as close() does.
 *
 * Regions (policy.ts). Writable private mappings (anonymous, heap, stacks, private file mappings) and anonymous
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
import { closeSync, fstatSync } from 'node:fs';
import { DirtyTrackError, noSuchProcess } from '../../errors.js';
import { registerRefusal, uffdRegionPolicy } from './policy.js';
import { closeInTarget, createInTarget, findTrackerUffds, handshake, takeDescriptor, unregisterAll } from './target-fd.js';
import { readMaps } from '../../proc/maps.js';
import { kernelRelease } from '../../kernel/info.js';
import { isNativeError, nativeFailure, requireNative } from '../../native/binding.js';
import { EPERM, PagemapScanner, rangeError, SCAN_WRITTEN, SCAN_WRITTEN_POPULATED, ScanAborted, scanFailure, type RangeWalk, type ScanQuery } from '../../proc/pagemap-ioctl.js';
import { PM_SCAN_CHECK_WPASYNC, PM_SCAN_WP_MATCHING, UFFDIO_REGISTER_MODE_WP } from '../../kernel/abi.js';
import { probeUffdWp, userfaultfdHere } from '../../kernel/features.js';
import { countRuns, mergeRuns } from '../../ranges.js';
import { clipRegion, makeScanResult, regionResult, scanParts } from '../../scan-result.js';
import type { Backend, MapsRegion, RegionResult, Runs, ScanOptions, ScanResult, SkippedRegion } from '../../types.js';

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
    let target: { fd: number; ino: number } | undefined;
    let created = false;
    const self = pid === process.pid;
    try {
      const existing = self ? undefined : findTrackerUffds(pid)[0];
      if (self) {
        // Tracking this process itself: the descriptor is made here, without ptrace.
        fd = userfaultfdHere(binding);
        target = { fd, ino: fstatSync(fd).ino };
        created = true;
        handshake(binding, fd, pid);
      } else if (existing) {
        target = existing;
        fd = takeDescriptor(pid, existing.fd);
      } else {
        target = createInTarget(pid);
        created = true;
        fd = takeDescriptor(pid, target.fd);
        handshake(binding, fd, pid);
      }
      if (fstatSync(fd).ino !== target.ino) throw new DirtyTrackError('EIO', `descriptor ${target.fd} of ${pid} changed while being taken`, { pid });
    } catch (err) {
      if (fd >= 0) closeSync(fd);
      if (created && target && !self) {
        try {
          closeInTarget(pid, target.fd, target.ino); // just created, and checked to be ours
        } catch {
          // gone, or cannot be traced any more: detach can remove it later
        }
      }
      this.scanner.close();
      throw err;
    }
    this.fd = fd;
    this.targetFd = target.fd;
    this.created = created;
    this.ino = target.ino;
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
