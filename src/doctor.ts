import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { backendAvailability, type BackendAvailability } from './backends/select.js';
import { DirtyTrackError } from './errors.js';
import { kernelRelease, PAGE_SIZE, thpMode } from './kernel/info.js';
import { readMaps } from './proc/maps.js';
import { decodeEntry } from './proc/pagemap-entry.js';
import { PagemapReader } from './proc/pagemap.js';
import { probeSoftDirty, softDirtyConfig, type Probe } from './kernel/features.js';
import { selectRegions, regionPages } from './scan-result.js';
import { checkProcess, liveThread, readStatus, statusField } from './proc/process.js';
import { seccompReport, type SeccompReport } from './proc/seccomp.js';
import { lockHolder } from './proc/lock.js';
import { nativeStatus } from './native/binding.js';

/** Capability bit numbers (include/uapi/linux/capability.h). */
const CAP_SYS_PTRACE = 19;
const CAP_SYS_ADMIN = 21;

export interface ProcessAccess {
  pid: number;
  comm: string;
  mapsReadable: boolean;
  pagemapReadable: boolean;
  /** PFNs read as 0 without CAP_SYS_ADMIN; flags stay valid. */
  pfnVisible?: boolean;
  clearRefsWritable: boolean;
  /** Pid of a tracer already attached (ptrace allows one), 0 when none. */
  tracerPid: number;
  /** Pid of the dirtytrack that holds the process (another tracker is refused), absent when none. */
  trackedBy?: number;
  /** Seccomp state and what it means for each backend (uffd-wp injects system calls). */
  seccomp?: SeccompReport;
  regions: number;
  problems: string[];
}

export interface DoctorReport {
  kernel: string;
  pageSize: number;
  thp?: string;
  softDirty: Probe & { config?: boolean; configSource?: string };
  native: { loaded: boolean; reason?: string };
  backends: BackendAvailability[];
  auto: string | null;
  ptrace: { yamaScope?: number; capSysPtrace: boolean; capSysAdmin: boolean };
  process?: ProcessAccess;
}

export function doctor(pid?: number): DoctorReport {
  const backends = backendAvailability();
  const caps = effectiveCaps();
  let yamaScope: number | undefined;
  try {
    yamaScope = Number(readFileSync('/proc/sys/kernel/yama/ptrace_scope', 'utf8').trim());
  } catch {
    // no Yama LSM: classic ptrace rules only
  }
  return {
    kernel: kernelRelease(),
    pageSize: PAGE_SIZE,
    thp: thpMode(),
    softDirty: { ...probeSoftDirty(), ...softDirtyConfig() },
    native: nativeStatus(),
    backends,
    auto: backends.find((b) => b.works)?.name ?? null,
    ptrace: { yamaScope, capSysPtrace: hasCap(caps, CAP_SYS_PTRACE), capSysAdmin: hasCap(caps, CAP_SYS_ADMIN) },
    process: pid === undefined ? undefined : processAccess(pid),
  };
}

function effectiveCaps(): bigint {
  const caps = statusField(readStatus(process.pid), 'CapEff');
  return caps ? BigInt('0x' + caps) : 0n;
}

const hasCap = (caps: bigint, bit: number) => ((caps >> BigInt(bit)) & 1n) === 1n;

function processAccess(pid: number): ProcessAccess {
  checkProcess(pid);
  const status = readStatus(pid);
  const problems: string[] = [];
  const comm = statusField(status, 'Name') ?? '?';
  const tracerPid = Number(statusField(status, 'TracerPid') ?? 0);
  let seccomp: SeccompReport | undefined;
  try {
    // Reading filters stops a thread for an instant; a traced one cannot be stopped by a second tracer.
    seccomp = tracerPid === 0 ? seccompReport(pid, liveThread(pid) ?? pid) : undefined;
  } catch (err) {
    problems.push(err instanceof DirtyTrackError ? err.message : String(err));
  }
  if (seccomp?.meaning.uffdWp.startsWith('refused')) problems.push(`uffd-wp ${seccomp.meaning.uffdWp}`);
  let regions = 0;
  let mapsReadable = false;
  let pagemapReadable = false;
  let pfnVisible: boolean | undefined;
  try {
    const maps = readMaps(pid);
    mapsReadable = true;
    const { scan } = selectRegions(maps);
    regions = scan.length;
    const reader = new PagemapReader(pid, 4096);
    pagemapReadable = true;
    try {
      pfnVisible = firstPresentPfnVisible(reader, scan);
    } finally {
      reader.close();
    }
  } catch (err) {
    problems.push(err instanceof DirtyTrackError ? err.message : String(err));
  }
  let clearRefsWritable = false;
  try {
    accessSync(`/proc/${pid}/clear_refs`, constants.W_OK);
    clearRefsWritable = existsSync(`/proc/${pid}/clear_refs`);
  } catch {
    problems.push(`/proc/${pid}/clear_refs is not writable`);
  }
  if (tracerPid !== 0) problems.push(`already traced by pid ${tracerPid}: uffd-wp cannot attach`);
  const trackedBy = lockHolder(pid);
  if (trackedBy !== undefined) problems.push(`already tracked by dirtytrack pid ${trackedBy}: another scan, clear, watch or detach is refused (exit 6)`);
  if (regions === 0 && mapsReadable) problems.push('no memory mappings (kernel thread or zombie)');
  return { pid, comm, mapsReadable, pagemapReadable, pfnVisible, clearRefsWritable, tracerPid, ...(trackedBy !== undefined ? { trackedBy } : {}), seccomp, regions, problems };
}

/** Whether the first present page found shows a non-zero PFN (needs CAP_SYS_ADMIN since Linux 4.2). */
function firstPresentPfnVisible(reader: PagemapReader, regions: ReturnType<typeof selectRegions>['scan']): boolean | undefined {
  for (const r of regions) {
    const { startPage, endPage } = regionPages(r);
    const n = Math.min(endPage - startPage, 4096);
    const entries = reader.entries(startPage, n);
    for (const raw of entries) {
      const e = decodeEntry(raw);
      if (e.present) return (e.pfn ?? 0n) !== 0n;
    }
  }
  return undefined;
}
