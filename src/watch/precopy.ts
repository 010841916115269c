/**
 * Pre-copy live migration estimate: the model of Clark et al. (NSDI 2005) as QEMU iterates it.
 *
 * Round 0 sends all memory: given `round0` (a VM's guest RAM, zero pages counted from the page
 * contents, see proc/zero-pages.ts), normal pages cost a page plus a header and zero pages only a
 * header and a byte, as QEMU sends them; without it, `residentBytes` are sent as normal pages. Each
 * later round sends the distinct pages dirtied while the previous round was on the wire:
 * min(dirty rate × round time, working set). The iteration rule is QEMU's: stop-and-copy as soon as a
 * round's pages fit `bandwidth × maxDowntime` (QEMU's threshold; it measures the bandwidth, which a
 * max-bandwidth cap pins). QEMU never gives up (no round limit) and does not converge when the rounds
 * stop shrinking; the figures then describe stopping at that steady state, and `expectedDowntimeMs`
 * is what QEMU's query-migrate reports as expected-downtime. The stop-and-copy itself runs at
 * `stopCopyBandwidthBytesPerSec` (QEMU lifts the max-bandwidth cap for it: the link's speed).
 */
export interface PrecopyInput {
  /** What round 0 sends when `round0` is not given (every resident byte, as normal pages). */
  residentBytes: number;
  /** A hypervisor's round 0: guest RAM pages whose content is non-zero, and zero pages. */
  round0?: { normalPages: number; zeroPages: number };
  dirtyBytesPerSec: number;   // steady rate of distinct pages dirtied
  workingSetBytes: number;    // what is rewritten at most: caps a round
  bandwidthBytesPerSec: number;
  maxDowntimeMs: number;      // budget for the final stop-and-copy
  /** Speed of the stop-and-copy; default the pre-copy bandwidth. */
  stopCopyBandwidthBytesPerSec?: number;
  /** Rounds before giving up; default none (QEMU). */
  maxRounds?: number;
  pageSize?: number;
  /** Bytes on the wire per page besides its content (QEMU: an 8-byte address+flags header). */
  pageHeaderBytes?: number;
  /** Bytes on the wire for a zero page (QEMU: header + 1 byte). */
  zeroPageBytes?: number;
}

export interface PrecopyEstimate {
  converges: boolean;
  /** Pre-copy rounds while the guest runs, round 0 included (0: everything fits the budget at once). */
  rounds: number;
  finalBytes: number;         // memory left for stop-and-copy
  downtimeMs: number;         // finalBytes at the stop-and-copy bandwidth
  /** finalBytes at the pre-copy bandwidth: QEMU's expected-downtime. */
  expectedDowntimeMs: number;
  totalSeconds: number;       // pre-copy plus downtime
  transferredBytes: number;   // on the wire, headers included, stop-and-copy included
  /** Bytes on the wire per pre-copy round. */
  roundBytes: number[];
}

/** QEMU 7.2's defaults (qapi/migration.json, migration/ram.c): max-bandwidth 32 MiB/s, downtime-limit 300 ms. */
export const QEMU_DEFAULTS = {
  bandwidthBytesPerSec: 32 * 2 ** 20,
  maxDowntimeMs: 300,
  pageHeaderBytes: 8,
  zeroPageBytes: 9,
  maxRounds: Infinity,
} as const;

/** Past this, a shrinking series is still called converging; it only guards the loop. */
const ROUND_LIMIT = 10_000;

export function estimatePrecopy(p: PrecopyInput): PrecopyEstimate {
  const pageSize = p.pageSize ?? 4096;
  const header = p.pageHeaderBytes ?? 0;
  const wire = (bytes: number) => bytes + (bytes / pageSize) * header;
  const bw = p.bandwidthBytesPerSec;
  const stopBw = p.stopCopyBandwidthBytesPerSec ?? bw;
  const maxRounds = p.maxRounds ?? Infinity;
  const budget = (bw * p.maxDowntimeMs) / 1000;

  // Memory still to send and what it costs on the wire (round 0's zero pages are cheap).
  let memory = p.round0 ? (p.round0.normalPages + p.round0.zeroPages) * pageSize : p.residentBytes;
  let onWire = p.round0 ? p.round0.normalPages * (pageSize + header) + p.round0.zeroPages * (p.zeroPageBytes ?? header + 1) : wire(memory);
  const roundBytes: number[] = [];
  let seconds = 0;
  let converges = true;
  while (memory > budget) {
    if (roundBytes.length >= Math.min(maxRounds, ROUND_LIMIT)) {
      converges = false;
      break;
    }
    const t = onWire / bw;
    const next = Math.min(p.dirtyBytesPerSec * t, p.workingSetBytes);
    seconds += t;
    roundBytes.push(onWire);
    const shrinking = next < memory;
    memory = next;
    onWire = wire(next);
    if (!shrinking && memory > budget) {
      converges = false; // a steady state above the budget: QEMU would iterate forever
      break;
    }
  }
  const downtimeMs = (onWire / stopBw) * 1000;
  return {
    converges,
    rounds: roundBytes.length,
    finalBytes: memory,
    downtimeMs,
    expectedDowntimeMs: (onWire / bw) * 1000,
    totalSeconds: seconds + downtimeMs / 1000,
    transferredBytes: roundBytes.reduce((a, b) => a + b, 0) + onWire,
    roundBytes,
  };
}
