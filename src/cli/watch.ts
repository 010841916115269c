import { appendFileSync, writeFileSync } from 'node:fs';
import { parseBackend, parseBandwidth, parseCommandArgs, parseDuration, parseNumber, parsePid, usageError } from './args.js';
import { EXIT } from '../errors.js';
import { formatBytes } from '../format.js';
import { PAGE_SIZE } from '../kernel/info.js';
import { estimatePrecopy, type PrecopyEstimate } from '../watch/precopy.js';
import { watch, type WatchRound, type WatchSummary } from '../watch/loop.js';

export const WATCH_USAGE = `
watch options:
  --interval D     time between clear and scan (default 200ms; accepts 50ms, 1s)
  --tolerance T    relative change counted as nearly constant (default 5%)
  --stable N       consecutive rounds within tolerance to converge (default 3)
  --max-rounds N   stop after N rounds (default 100)
  --timeout D      stop after D (default 60s)
  --bandwidth B    link bandwidth for the pre-copy estimate (e.g. 1GiB/s, 10Gbit/s)
  --downtime D     stop-and-copy budget for the estimate (default 300ms)
  --backend B      auto (default), soft-dirty, pagemap-scan, uffd-wp
  --freeze / --no-freeze   stop the target during scan-and-reset (default: on for soft-dirty
                   backends when permitted, off for uffd-wp, whose reset is atomic)
  --json           one JSON object per round, then a summary object
  --out FILE       also write the JSON lines to FILE`;

const BARS = ' ▁▂▃▄▅▆▇█';

function sparkline(values: number[]): string {
  const max = Math.max(...values, 1);
  return values.map((v) => BARS[Math.round((v / max) * (BARS.length - 1))]).join('');
}

export function roundJson(r: WatchRound) {
  return {
    round: r.round,
    elapsedMs: Math.round(r.elapsedMs * 10) / 10,
    intervalMs: Math.round(r.intervalMs * 10) / 10,
    periodMs: Math.round(r.periodMs * 10) / 10,
    dirtyPages: r.dirtyPages,
    dirtyBytes: r.dirtyBytes,
    pagesPerSec: Math.round(r.pagesPerSec),
    newPages: r.newPages,
    overlapPages: r.overlapPages,
    scanMs: Math.round(r.scanMs * 100) / 100,
    pauseMs: Math.round(r.pauseMs * 100) / 100,
  };
}

function roundLine(r: WatchRound, maxSoFar: number): string {
  const bar = '█'.repeat(Math.round((24 * r.dirtyPages) / Math.max(maxSoFar, 1)));
  return `round ${String(r.round).padStart(3)}  ${(r.elapsedMs / 1000).toFixed(2).padStart(7)}s  ${String(r.dirtyPages).padStart(8)} pages ` +
    `${formatBytes(r.dirtyBytes).padStart(9)}  ${r.mibPerSec.toFixed(1).padStart(7)} MiB/s  new ${String(r.newPages).padStart(7)}  hot ${String(r.overlapPages).padStart(7)}  ${bar}`;
}

function summaryText(s: WatchSummary, rounds: WatchRound[], est?: PrecopyEstimate, bandwidth?: number): string {
  const lines = [
    `stopped: ${s.reason}${s.error ? ` (${s.error})` : ''} after ${s.rounds} rounds · backend ${s.backend}${s.freeze ? ', frozen during scans' : ''}`,
    `dirty pages per round  ${sparkline(rounds.map((r) => r.dirtyPages))}`,
    `steady dirty rate      ${Math.round(s.steadyPagesPerSec)} pages/s (${formatBytes(s.steadyPagesPerSec * PAGE_SIZE)}/s)`,
    `working set            ${s.workingSetPages} pages (${formatBytes(s.workingSetPages * PAGE_SIZE)}); hot set ${s.hotSetPages} pages`,
    `tracker cost           ${s.trackerMs.toFixed(1)} ms scanning${s.freeze ? `, target paused ${s.pauseMs.toFixed(1)} ms in all` : ''}`,
  ];
  if (est && bandwidth) {
    const verdict = est.rounds === 0 ? 'all resident memory fits the downtime budget, no pre-copy round needed' : `${est.converges ? 'converges' : 'does NOT converge'} after ${est.rounds} rounds`;
    lines.push(`pre-copy at ${formatBytes(bandwidth)}/s: ${verdict}; ` +
      `${Math.round(est.finalBytes / PAGE_SIZE)} pages (${formatBytes(est.finalBytes)}) left for stop-and-copy → downtime ${est.downtimeMs.toFixed(0)} ms; total ${est.totalSeconds.toFixed(2)} s`);
  }
  return lines.join('\n');
}

export async function watchCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    interval: { type: 'string' },
    tolerance: { type: 'string' },
    stable: { type: 'string' },
    'max-rounds': { type: 'string' },
    timeout: { type: 'string' },
    bandwidth: { type: 'string' },
    downtime: { type: 'string' },
    backend: { type: 'string' },
    freeze: { type: 'boolean' },
    'no-freeze': { type: 'boolean' },
    json: { type: 'boolean' },
    out: { type: 'string' },
    'include-unpopulated': { type: 'boolean' },
  });
  if (positionals.length > 1) throw usageError(`unexpected argument '${positionals[1]}'`);
  const pid = parsePid(positionals[0]);
  if (values.freeze && values['no-freeze']) throw usageError('--freeze and --no-freeze exclude each other');
  const bandwidth = values.bandwidth === undefined ? undefined : parseBandwidth(values.bandwidth);
  const opts = {
    intervalMs: parseDuration(values.interval ?? '200ms', '--interval'),
    tolerance: parseNumber(values.tolerance ?? '5%', '--tolerance', { asFraction: true }),
    stable: parseNumber(values.stable ?? '3', '--stable', { integer: true, min: 1 }),
    maxRounds: parseNumber(values['max-rounds'] ?? '100', '--max-rounds', { integer: true, min: 1 }),
    timeoutMs: parseDuration(values.timeout ?? '60s', '--timeout'),
    backend: parseBackend(values.backend),
    freeze: values.freeze ? true : values['no-freeze'] ? false : undefined,
    includeUnpopulated: values['include-unpopulated'],
  };
  const downtimeMs = parseDuration(values.downtime ?? '300ms', '--downtime');
  if (values.out) writeFileSync(values.out, '');
  const emit = (obj: object) => {
    const line = JSON.stringify(obj);
    if (values.json) process.stdout.write(line + '\n');
    if (values.out) appendFileSync(values.out, line + '\n');
  };

  // Handlers stay installed until exit: a second Ctrl-C during the final flush must not cut it short.
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let maxSoFar = 0;
  const { rounds, summary } = await watch(pid, {
    ...opts,
    signal: controller.signal,
    onRound: (r) => {
      maxSoFar = Math.max(maxSoFar, r.dirtyPages);
      emit(roundJson(r));
      if (!values.json) process.stdout.write(roundLine(r, maxSoFar) + '\n');
    },
  });
  const est = bandwidth === undefined ? undefined : estimatePrecopy({
    residentBytes: summary.residentBytes,
    dirtyBytesPerSec: summary.steadyPagesPerSec * PAGE_SIZE,
    workingSetBytes: summary.workingSetPages * PAGE_SIZE,
    bandwidthBytesPerSec: bandwidth,
    maxDowntimeMs: downtimeMs,
  });
  emit({
    done: true,
    reason: summary.reason,
    rounds: summary.rounds,
    workingSetPages: summary.workingSetPages,
    steadyPagesPerSec: Math.round(summary.steadyPagesPerSec),
    hotSetPages: summary.hotSetPages,
    backend: summary.backend,
    freeze: summary.freeze,
    trackerMs: Math.round(summary.trackerMs * 10) / 10,
    pauseMs: Math.round(summary.pauseMs * 10) / 10,
    ...(est ? { precopy: { ...est, finalPages: Math.round(est.finalBytes / PAGE_SIZE) } } : {}),
    ...(summary.error ? { error: summary.error } : {}),
  });
  if (!values.json) process.stdout.write(summaryText(summary, rounds, est, bandwidth) + '\n');
  if (summary.error) process.stderr.write(`dirtytrack: ${summary.error}\n`);
  return summary.reason === 'interrupted' ? EXIT.interrupted : summary.error ? EXIT.failure : EXIT.ok;
}
