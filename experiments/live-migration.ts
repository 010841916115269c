import { readFileSync } from 'node:fs';
import { migrate, type MigrationOutcome } from '../lab/migrate.js';
import { freePort } from '../lab/vm-guest.js';
import { countZeroPages, type ZeroPageCount } from '../src/proc/zero-pages.js';
import { estimatePrecopy, QEMU_DEFAULTS, type PrecopyEstimate } from '../src/watch/precopy.js';
import { renderLiveMigration } from './lib/live-migration-report.js';
import { curveFunction, qemuVersion, TrackedGuest, type Observation } from './lib/vm.js';
import type { Experiment } from './index.js';

export const KERNEL = 'deb12';
export const MEMORY = '768M';
export const DOWNTIME_MS = 300;
/** A migration still active after this long is cancelled and counted as not converging. */
export const CANCEL_AFTER_S = 60;
const MiB = 2 ** 20;
const readOr = (file: string, fallback: string) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
};

export interface Case { label: string; rate: number; pages: number; bandwidthMiBs: number }

/** Chosen so the model and plain arithmetic put them on both sides of the line and near it. */
export const GRID: Case[] = [
  { label: 'easy', rate: 1000, pages: 16384, bandwidthMiBs: 50 },
  { label: 'easy (issue calibration)', rate: 3000, pages: 32768, bandwidthMiBs: 50 },
  { label: 'rate above bandwidth, small working set', rate: 20000, pages: 2048, bandwidthMiBs: 50 },
  { label: 'barely: rate 0.78 × bandwidth', rate: 10000, pages: 32768, bandwidthMiBs: 50 },
  { label: 'never (issue calibration)', rate: 10000, pages: 65536, bandwidthMiBs: 20 },
  { label: 'never: rate above bandwidth', rate: 30000, pages: 32768, bandwidthMiBs: 50 },
];

export interface CaseResult {
  c: Case;
  observed: Omit<Observation, 'intervals'> & { seconds: number };
  zero: ZeroPageCount;
  /** The same count from a 4,096-page sample, to show what sampling gives instead of the full read. */
  zeroSample?: ZeroPageCount;
  predicted: PrecopyEstimate;
  /** The same model fed the whole-process view (resident QEMU, no zero pages): what `watch` said before. */
  naive: PrecopyEstimate;
  actual: Omit<MigrationOutcome, 'samples'> & { samples: number; achievedMBs?: number };
  /** The guest after a completed migration: its first oops on the destination's console, with the guest
   *  uptime when the migration started (QEMU 7.2 under TCG corrupted migrated guests here). */
  guestAfter?: { migrateStartUptime: number; oops?: string };
}

export interface Data { qemu: string; guestKernel: string; ramBytes: number; backend: string; cases: CaseResult[] }

/** One case on a fresh guest: watch, count zero pages, predict, then migrate. */
export async function runCase(c: Case, log: (line: string) => void = () => {}): Promise<CaseResult & { guestKernel: string; ramBytes: number; backend: string }> {
  const t = await TrackedGuest.boot(KERNEL, MEMORY);
  let stopped = false;
  try {
    const bw = c.bandwidthMiBs * MiB;
    await t.startWriter(c.pages, c.rate);
    await t.interval(1000);
    // Round 0's pages decide how long the watch must be: the working set must be seen over that horizon.
    const zeroBefore = countZeroPages(t.guest.pid, t.ram.regions);
    const round0Seconds = ((zeroBefore.pages - zeroBefore.zeroPages) * 4104) / bw;
    const seconds = Math.min(30, Math.max(6, Math.ceil(round0Seconds)));
    const o = await t.observe(seconds);
    const zero = countZeroPages(t.guest.pid, t.ram.regions);
    const zeroSample = countZeroPages(t.guest.pid, t.ram.regions, { samplePages: 4096 });
    const residentBytes = readFileSync(`/proc/${t.guest.pid}/statm`, 'utf8').split(' ').map(Number)[1]! * 4096;
    const common = { dirtyBytesPerSec: o.ratePagesPerSec * 4096, bandwidthBytesPerSec: bw, maxDowntimeMs: DOWNTIME_MS, pageHeaderBytes: QEMU_DEFAULTS.pageHeaderBytes, zeroPageBytes: QEMU_DEFAULTS.zeroPageBytes };
    const predicted = estimatePrecopy({
      ...common, residentBytes: t.ram.ramBytes, workingSetBytes: o.workingSetPages * 4096,
      round0: { normalPages: zero.pages - zero.zeroPages, zeroPages: zero.zeroPages },
      dirtiedBytes: curveFunction(o, 4096, t.ram.ramBytes),
    });
    const naive = estimatePrecopy({ ...common, residentBytes, workingSetBytes: o.workingSetPages * 4096 });
    log(`${c.label}: predicted ${predicted.converges ? 'converges' : 'never'} in ${predicted.rounds} rounds, ${predicted.totalSeconds.toFixed(1)} s, ${(predicted.transferredBytes / 1e6).toFixed(0)} MB`);
    t.backend.close(); // nothing of ours left in QEMU while it migrates
    const port = await freePort();
    const dst = await t.guest.startDestination(port);
    const migrateStartUptime = Number((await t.guest.agent.sh('cut -d" " -f1 /proc/uptime')).stdout);
    let m: MigrationOutcome;
    let oops: string | undefined;
    try {
      m = await migrate(t.guest, port, { maxBandwidthBytesPerSec: bw, downtimeLimitMs: DOWNTIME_MS, cancelAfterSeconds: CANCEL_AFTER_S });
      if (m.status === 'completed') await new Promise((r) => setTimeout(r, 5000)); // let a broken guest show it
    } finally {
      await dst.stop();
    }
    for (const log of [t.guest.consoleLog, dst.consoleLog]) {
      oops ??= /^\[\s*[\d.]+\] (BUG:|Oops|general protection fault)[^\n]*/m.exec(readOr(log, ''))?.[0];
    }
    log(`${c.label}: QEMU ${m.status} after ${(m.totalMs / 1000).toFixed(1)} s, ${(m.transferredBytes / 1e6).toFixed(0)} MB, ${m.dirtySyncs} syncs`);
    await t.guest.stop();
    stopped = true;
    const { intervals: _, ...observed } = o;
    const active = m.samples.filter((s) => s.status === 'active');
    const achievedMBs = active.length > 1 ? (active.at(-1)!.transferred - active[0]!.transferred) / ((active.at(-1)!.ms - active[0]!.ms) / 1000) / 1e6 : undefined;
    return {
      c, zero, zeroSample, predicted: { ...predicted }, naive, observed: { ...observed, seconds },
      actual: { ...m, samples: m.samples.length, achievedMBs }, guestAfter: { migrateStartUptime, oops },
      guestKernel: t.guest.kernelRelease, ramBytes: t.ram.ramBytes, backend: t.backend.name,
    };
  } finally {
    if (!stopped) await t.stop().catch(() => {});
  }
}

export const liveMigration: Experiment<Data> = {
  name: 'live-migration',
  question: 'Does the pre-copy estimate, made by tracking a running QEMU guest from the host, predict what QEMU\'s live migration then does?',
  async measure() {
    const data: Data = { qemu: qemuVersion(), guestKernel: '', ramBytes: 0, backend: '', cases: [] };
    for (const c of GRID) {
      const r = await runCase(c, (l) => process.stderr.write(`  ${l}\n`));
      Object.assign(data, { guestKernel: r.guestKernel, ramBytes: r.ramBytes, backend: r.backend });
      data.cases.push({ c: r.c, observed: r.observed, zero: r.zero, zeroSample: r.zeroSample, predicted: r.predicted, naive: r.naive, actual: r.actual, guestAfter: r.guestAfter });
    }
    return data;
  },
  render: renderLiveMigration,
};
