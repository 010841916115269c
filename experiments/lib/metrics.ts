import type { PageRange, ScanResult } from '../../src/types.js';

export interface Accuracy {
  written: number;
  detected: number;
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  precision: number;
  recall: number;
}

/** Pages a scan reports within [startPage, endPage), as a set. */
export function detectedIn(scan: ScanResult, startPage: number, endPage: number): Set<number> {
  const out = new Set<number>();
  for (const r of scan.regions) for (const [s, e] of r.dirty as PageRange[]) {
    for (let p = Math.max(s, startPage); p < Math.min(e, endPage); p++) out.add(p);
  }
  return out;
}

/**
 * Compare detected pages with the truth, both restricted to the target's region. Precision and recall
 *  are 1 for an empty side: nothing detected has no false positive, nothing written has nothing to miss.
 */
export function accuracy<T>(truth: Set<T>, detected: Set<T>): Accuracy {
  let tp = 0;
  for (const p of detected) if (truth.has(p)) tp++;
  const fp = detected.size - tp;
  const fn = truth.size - tp;
  return {
    written: truth.size,
    detected: detected.size,
    truePositives: tp,
    falsePositives: fp,
    falseNegatives: fn,
    precision: detected.size === 0 ? 1 : tp / detected.size,
    recall: truth.size === 0 ? 1 : tp / truth.size,
  };
}
