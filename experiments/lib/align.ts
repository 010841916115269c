/**
 * Align a free-running target's write log with the tracker's rounds.
 *
 * Around each reset k (k = 0 is the first clear) the count of completed writes is read twice:
 * before[k] just before the reset began and after[k] just after it ended (equal when the target is
 * frozen). At a moment when the count is c, writes 0 … c − 1 are stored and write c may be in flight.
 * So write i
 *   - can be reported by reset k only if it may have started by then: i ≤ after[k];
 *   - must be reported by reset k at the latest once it completed before reset k began: i < before[k].
 * It must therefore appear in some round k with kmin ≤ k ≤ kmax, kmin = first k with after[k] ≥ i,
 * kmax = first k with before[k] > i. Writes that may have landed during the first clear
 * (i ≤ after[0]) or after the last reset began are not checked.
 */
export interface Boundary {
  before: number;
  after: number;
}

export interface Alignment {
  /** Writes that appear in none of the rounds that must hold them. */
  lost: number;
  /** Writes checked. */
  checked: number;
  /** Per round k (index 0 unused): distinct pages of the writes certainly inside its window. */
  certain: number[];
}

/** `pagesOf(from, to)`: page numbers of writes [from, to); `detected[k]`: pages round k reported (k ≥ 1). */
export function alignWrites(b: Boundary[], pagesOf: (from: number, to: number) => number[], detected: Array<Set<number>>): Alignment {
  const last = b.length - 1;
  const certain = [0];
  for (let k = 1; k <= last; k++) {
    const from = b[k - 1].after + 1, to = b[k].before;
    certain.push(to > from ? new Set(pagesOf(from, to)).size : 0);
  }
  if (last < 1) return { lost: 0, checked: 0, certain };
  const first = b[0].after + 1;
  const end = b[last].before;
  if (end <= first) return { lost: 0, checked: 0, certain };
  const pages = pagesOf(first, end);
  let lost = 0;
  let kmin = 1, kmax = 1;
  for (let i = first; i < end; i++) {
    while (b[kmin].after < i) kmin++;
    while (b[kmax].before <= i) kmax++;
    const p = pages[i - first];
    let found = false;
    for (let k = kmin; k <= kmax && !found; k++) found = detected[k]?.has(p) ?? false;
    if (!found) lost++;
  }
  return { lost, checked: end - first, certain };
}
