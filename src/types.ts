/** One line of /proc/PID/maps. Addresses are BigInt: with 5-level paging they exceed 2^53. */
export interface MapsRegion {
  start: bigint;          // inclusive
  end: bigint;            // exclusive
  perms: string;          // e.g. "rw-p"
  offset: bigint;
  dev: string;            // "fd:01"
  inode: number;
  path: string;           // "" for anonymous; "[heap]", "/usr/lib/x (deleted)" kept verbatim minus the " (deleted)" suffix
  deleted: boolean;
}

/** Half-open range of page numbers [start, end). Page numbers fit in a JS number (< 2^53) for every user address. */
export type PageRange = [number, number];

/**
 * Page runs, flat: [start0, end0, start1, end1, …], half-open, sorted and merged. How scans hold
 * their answer: a million runs are one 16 MiB array, not a million objects for the GC.
 */
export type Runs = Float64Array;

export type BackendName = 'soft-dirty' | 'pagemap-scan' | 'uffd-wp';

export interface RegionResult {
  region: MapsRegion;
  pages: number;          // pages in the region
  dirtyPages: number;
  runs: Runs;             // the dirty pages, in page numbers
  /** The same runs as pairs, made on first use. */
  readonly dirty: PageRange[];
}

export interface SkippedRegion {
  region: MapsRegion;
  reason: string;
}

/** The one result object every reporter (human, JSON, Markdown) renders. */
export interface ScanResult {
  pid: number;
  kernel: string;
  backend: BackendName;
  pageSize: number;
  dirtyPages: number;
  regions: RegionResult[];
  skipped: SkippedRegion[];
  scanMs: number;
}

export interface ScanOptions {
  /** Count pages soft-dirty but neither present nor swapped (VM_SOFTDIRTY on untouched new mappings). */
  includeUnpopulated?: boolean;
  /** Also reset tracking after reading (atomically where the backend can). */
  reset?: boolean;
  /** Only scan regions overlapping [start, end) (addresses). */
  range?: { start: bigint; end: bigint };
  /** Which parts of each mapping to read (`--region`); mappings it leaves out are not read at all. */
  select?: RegionSelector;
}

/** The address ranges of mapping `r` to read: within it, sorted, disjoint; [] reads none of it. */
export type RegionSelector = (r: MapsRegion) => Array<{ start: bigint; end: bigint }>;

/** A way of finding the pages a process wrote since the last clear. */
export interface Backend {
  readonly name: BackendName;
  readonly pid: number;
  /** Reset tracking: afterwards only pages written from now on are reported. */
  clear(): void;
  /** Pages written since the last clear. With opts.reset, also clears (atomic for uffd-wp). */
  scan(opts?: ScanOptions): ScanResult;
  /** Stop tracking and release everything (uffd-wp: unregister and close the descriptor inside the target). */
  close(): void;
  /** Let go of this process's handles but leave tracking armed in the target, for a later command's scan. */
  release(): void;
}
