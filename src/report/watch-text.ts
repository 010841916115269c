import { formatBytes } from '../format.js';
import type { PrecopyEstimate } from '../watch/precopy.js';
import type { WatchRound, WatchSummary } from '../watch/loop.js';

const BARS = ' ▁▂▃▄▅▆▇█';
/** Width of the bar after each round line, for the largest round so far. */
export const BAR_WIDTH = 24;

export function sparkline(values: number[]): string {
  const max = Math.max(...values, 1);
  return values.map((v) => BARS[Math.round((v / max) * (BARS.length - 1))]).join('');
}

/** One line per round; the bar is scaled to the largest round so far (the output is streamed). */
export function roundLine(r: WatchRound, maxSoFar: number): string {
  const bar = '█'.repeat(Math.round((BAR_WIDTH * r.dirtyPages) / Math.max(maxSoFar, 1)));
  return `round ${String(r.round).padStart(3)}  ${(r.elapsedMs / 1000).toFixed(2).padStart(7)}s  ${String(r.dirtyPages).padStart(8)} pages ` +
    `${formatBytes(r.dirtyBytes).padStart(9)}  ${r.mibPerSec.toFixed(1).padStart(7)} MiB/s  new ${String(r.newPages).padStart(7)}  hot ${String(r.overlapPages).padStart(7)}  ${bar}`;
}

export function summaryText(s: WatchSummary, rounds: WatchRound[], pageSize: number, est?: PrecopyEstimate, bandwidth?: number): string {
  const lines = [
    `stopped: ${s.reason}${s.error ? ` (${s.error})` : ''} after ${s.rounds} rounds · backend ${s.backend}${s.freeze ? ', frozen during scans' : ''}`,
    `dirty pages per round  ${sparkline(rounds.map((r) => r.dirtyPages))}`,
    `steady dirty rate      ${Math.round(s.steadyPagesPerSec)} pages/s (${formatBytes(s.steadyPagesPerSec * pageSize)}/s)`,
    `working set            ${s.workingSetPages} pages (${formatBytes(s.workingSetPages * pageSize)}); hot set ${s.hotSetPages} pages`,
    `tracker cost           ${s.trackerMs.toFixed(1)} ms scanning${s.freeze ? `, target paused ${s.pauseMs.toFixed(1)} ms in all` : ''}`,
  ];
  if (est && bandwidth) {
    const verdict = est.rounds === 0 ? 'all resident memory fits the downtime budget, no pre-copy round needed' : `${est.converges ? 'converges' : 'does NOT converge'} after ${est.rounds} rounds`;
    lines.push(`pre-copy at ${formatBytes(bandwidth)}/s: ${verdict}; ` +
      `${Math.round(est.finalBytes / pageSize)} pages (${formatBytes(est.finalBytes)}) left for stop-and-copy → downtime ${est.downtimeMs.toFixed(0)} ms; total ${est.totalSeconds.toFixed(2)} s`);
  }
  return lines.join('\n');
}
