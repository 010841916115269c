/**
 * Pre-copy live migration estimate (Clark et al., NSDI 2005), stepped the way QEMU's migration thread
 * runs it (migration/migration.c, migration/ram.c, QEMU 7.2):
 *  - round 0 sends all memory. Given `round0` (a VM's guest RAM with its zero pages counted from the
 *    contents, proc/zero-pages.ts), normal pages cost a page plus a header on the wire and zero pages
 *    only `zeroPageBytes`; without it, `residentBytes` go as normal pages;
 *  - sending goes in steps of `stepSeconds` at the bandwidth (QEMU's rate-limit window, 100 ms);
 *  - after each step, when less than the threshold (bandwidth × maxDowntime) is left, the dirty log is
 *    synced: the distinct pages dirtied since the previous sync join what is left. If that is still
 *    under the threshold, the guest stops and the rest is sent (stop-and-copy). So the final bytes
 *    are close to the threshold, not to one round's dirtying;
 *  - QEMU never gives up: when what is left after a sync stops shrinking, it does not converge; the
 *    figures then describe stopping there, and `expectedDowntimeMs` is what query-migrate reports.
 * Distinct pages dirtied in τ seconds: `dirtiedBytes(τ)` (a measured curve) or min(rate × τ, working set).
 * The stop-and-copy runs at `stopCopyBandwidthBytesPerSec`: QEMU lifts the max-bandwidth cap for it.
 */
export interface PrecopyInput {
  /** What round 0 sends when `round0` is not given (every resident byte, as normal pages). */
  residentBytes: number;
  /** A hypervisor's round 0: guest RAM pages whose content is non-zero, and zero pages. */
  round0?: { normalPages: number; zeroPages: number };
  dirtyBytesPerSec: number;   // steady rate of distinct pages dirtied
  workingSetBytes: number;    // what is rewritten at most
  /** Distinct bytes dirtied in an interval of `seconds` (a measured curve); default min(rate × t, working set). */
  dirtiedBytes?: (seconds: number) => number;
  bandwidthBytesPerSec: number;
  maxDowntimeMs: number;      // QEMU's downtime-limit: sets the threshold
  /** Speed of the stop-and-copy; default the pre-copy bandwidth. */
  stopCopyBandwidthBytesPerSec?: number;
  pageSize?: number;
  /** Bytes on the wire per page besides its content (QEMU: an 8-byte address+flags header); default 0. */
  pageHeaderBytes?: number;
  /** Bytes on the wire for a zero page in round 0 (QEMU: header + 1 byte). */
  zeroPageBytes?: number;
  /** Sending step between threshold checks (QEMU: BUFFER_DELAY, 100 ms). */
  stepSeconds?: number;
}

export interface PrecopyEstimate {
  converges: boolean;
  /** Passes over memory while the guest runs, round 0 included (0: everything fits the budget at once). */
  rounds: number;
  /** Dirty-log syncs, counted as QEMU's dirty-sync-count does (setup and completion included). */
  dirtySyncs: number;
  finalBytes: number;         // memory left for stop-and-copy
  downtimeMs: number;         // finalBytes on the wire at the stop-and-copy bandwidth
  /** finalBytes on the wire at the pre-copy bandwidth: QEMU's expected-downtime. */
  expectedDowntimeMs: number;
  totalSeconds: number;       // pre-copy plus downtime
  transferredBytes: number;   // on the wire, headers included, stop-and-copy included
}

/** QEMU 7.2's defaults (qapi/migration.json, migration/ram.c): max-bandwidth 32 MiB/s, downtime-limit 300 ms. */
export const QEMU_DEFAULTS = {
  bandwidthBytesPerSec: 32 * 2 ** 20,
  maxDowntimeMs: 300,
  pageHeaderBytes: 8,
  zeroPageBytes: 9,
  stepSeconds: 0.1,
} as const;

/** A sync that leaves less than 0.1 % less than the one before is a steady state. */
const PROGRESS = 1e-3;
/** Simulated time after which a still-shrinking migration is called non-converging anyway. */
const HORIZON_SECONDS = 86_400;

export function estimatePrecopy(p: PrecopyInput): PrecopyEstimate {
  const pageSize = p.pageSize ?? 4096;
  const header = p.pageHeaderBytes ?? 0;
  const bw = p.bandwidthBytesPerSec;
  const step = p.stepSeconds ?? QEMU_DEFAULTS.stepSeconds;
  const threshold = (bw * p.maxDowntimeMs) / 1000;
  const dirtied = p.dirtiedBytes ?? ((t: number) => Math.min(p.dirtyBytesPerSec * t, p.workingSetBytes));
  // Two pools of memory still to send: round 0's (zero pages make it cheap) and re-dirtied pages.
  let pool0 = p.round0 ? (p.round0.normalPages + p.round0.zeroPages) * pageSize : p.residentBytes;
  const wire0 = p.round0 ? p.round0.normalPages * (pageSize + header) + p.round0.zeroPages * (p.zeroPageBytes ?? header + 1) : pool0 * (1 + header / pageSize);
  const ratio0 = pool0 > 0 ? wire0 / pool0 : 1;
  const ratio1 = 1 + header / pageSize;
  let pool1 = 0;
  let seconds = 0;
  let sinceSync = 0;
  let sent = 0;
  let syncs = 0;
  let previous = Infinity;
  let converges = true;
  for (;;) {
    if (pool0 + pool1 < threshold) {
      pool1 += dirtied(sinceSync);
      sinceSync = 0;
      syncs++;
      const left = pool0 + pool1;
      if (left < threshold) break;
      if (left >= previous * (1 - PROGRESS) || seconds > HORIZON_SECONDS) {
        converges = false;
        break;
      }
      previous = left;
    }
    let budget = bw * step;
    const from0 = Math.min(pool0, budget / ratio0);
    pool0 -= from0;
    budget -= from0 * ratio0;
    const from1 = Math.min(pool1, budget / ratio1);
    pool1 -= from1;
    const wire = from0 * ratio0 + from1 * ratio1;
    if (!(wire > 0)) {
      converges = false; // nothing left to send yet above the threshold (a zero downtime or bandwidth)
      break;
    }
    sent += wire;
    seconds += wire / bw;
    sinceSync += wire / bw;
  }
  const finalWire = pool0 * ratio0 + pool1 * ratio1;
  const downtimeMs = (finalWire / (p.stopCopyBandwidthBytesPerSec ?? bw)) * 1000;
  return {
    converges,
    rounds: syncs - 1 + (sent > 0 ? 1 : 0),
    dirtySyncs: syncs + 2,
    finalBytes: pool0 + pool1,
    downtimeMs,
    expectedDowntimeMs: (finalWire / bw) * 1000,
    totalSeconds: seconds + downtimeMs / 1000,
    transferredBytes: sent + finalWire,
  };
}
