/**
 * Pre-copy live migration estimate (the model of Clark et al., NSDI 2005, as QEMU iterates it):
 * round 0 sends the resident memory; each later round sends what was dirtied while the previous one was
 * on the wire, capped by the working set; stop-and-copy once a round fits the downtime budget.
 */
export interface PrecopyInput {
  residentBytes: number;      // what round 0 must send
  dirtyBytesPerSec: number;   // steady dirty rate
  workingSetBytes: number;    // what is rewritten at most
  bandwidthBytesPerSec: number;
  maxDowntimeMs: number;      // budget for the final stop-and-copy
  maxRounds?: number;         // pre-copy iterations before giving up (QEMU-like default 30)
}

export interface PrecopyEstimate {
  converges: boolean;         // dirty rate below bandwidth: each round shrinks
  rounds: number;             // pre-copy rounds until the rest fits the budget (or maxRounds)
  finalBytes: number;         // left for stop-and-copy
  downtimeMs: number;
  totalSeconds: number;       // pre-copy plus downtime
}

export function estimatePrecopy(p: PrecopyInput): PrecopyEstimate {
  const maxRounds = p.maxRounds ?? 30;
  const budget = (p.bandwidthBytesPerSec * p.maxDowntimeMs) / 1000;
  let toSend = p.residentBytes;
  let seconds = 0;
  let rounds = 0;
  while (toSend > budget && rounds < maxRounds) {
    const t = toSend / p.bandwidthBytesPerSec;
    seconds += t;
    rounds++;
    toSend = Math.min(p.dirtyBytesPerSec * t, p.workingSetBytes);
  }
  const downtimeMs = (toSend / p.bandwidthBytesPerSec) * 1000;
  return {
    converges: p.dirtyBytesPerSec < p.bandwidthBytesPerSec && toSend <= budget,
    rounds,
    finalBytes: toSend,
    downtimeMs,
    totalSeconds: seconds + downtimeMs / 1000,
  };
}
