import { parseBackend, parseBandwidth, parseCommandArgs, parseCount, parseDuration, parseTolerance, usageError } from './args.js';
import { EXIT, exitCodeFor, SIGNAL_EXIT, type StopSignal } from '../errors.js';
import { OutFile, onStdoutFailure, print, stdoutFailed, stdoutOpen } from './output.js';
import { errorText } from './error-text.js';
import { PAGE_SIZE } from '../kernel/info.js';
import { estimatePrecopy } from '../watch/precopy.js';
import { watch } from '../watch/loop.js';
import { roundJson, summaryJson } from '../report/watch-json.js';
import { roundLine, summaryText } from '../report/watch-text.js';
import { WATCH_VIEWS_USAGE, watchViews } from './watch-views.js';
import { parseTargets, TARGET_OPTIONS } from './targets.js';
import { vmPrecopyInput } from '../targets/vm.js';
import { watchGroup } from '../targets/group-source.js';
import type { Member } from '../targets/member.js';
import { groupRoundJson, groupRoundNote, groupSummaryJson, groupSummaryLines } from '../report/group-watch.js';

export const WATCH_USAGE = `  watch <pid>|<pid>…|--tree PID|--cgroup PATH [--vm] [--region SPEC]… [options]
        clear, wait, scan, repeatedly, until the dirty count per interval is nearly constant`;

export const WATCH_OPTIONS_USAGE = `
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
  --out FILE       also write the JSON lines to FILE${WATCH_VIEWS_USAGE}`;

/** Signals that end a watch like Ctrl-C, each exiting 128 + its number. */
const STOP_SIGNALS: readonly StopSignal[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

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
    regions: { type: 'string' },
    heatmap: { type: 'string' },
    ...TARGET_OPTIONS,
  });
  const targets = parseTargets(positionals, values, 'watch');
  if (values.freeze && values['no-freeze']) throw usageError('--freeze and --no-freeze exclude each other');
  const bandwidth = values.bandwidth === undefined ? undefined : parseBandwidth(values.bandwidth);
  const opts = {
    intervalMs: parseDuration(values.interval ?? '200ms', '--interval'),
    tolerance: parseTolerance(values.tolerance ?? '5%'),
    stable: parseCount(values.stable ?? '3', '--stable'),
    maxRounds: parseCount(values['max-rounds'] ?? '100', '--max-rounds'),
    timeoutMs: parseDuration(values.timeout ?? '60s', '--timeout'),
    backend: parseBackend(values.backend),
    freeze: values.freeze ? true : values['no-freeze'] ? false : undefined,
    includeUnpopulated: values['include-unpopulated'],
  };
  const downtimeMs = parseDuration(values.downtime ?? '300ms', '--downtime');
  const views = watchViews(values, opts.stable);
  // Checked now, before the target is touched; emptied at the first line, once the target is confirmed.
  const out = values.out === undefined ? undefined : new OutFile(values.out);

  // Signals, a closed stdout and a failed --out all end the watch the same way: the loop stops at its
  // next wait, closes the backends, and the rounds so far are summarised. Handlers stay installed until
  // exit: a second Ctrl-C during the final flush must not cut it short.
  const controller = new AbortController();
  const stop = (why: string) => controller.signal.aborted || controller.abort(why);
  for (const signal of STOP_SIGNALS) process.on(signal, () => stop(signal));
  onStdoutFailure((f) => stop(f.code));
  const emit = (obj: object) => {
    const line = JSON.stringify(obj);
    if (values.json) print(line);
    if (out && !out.write(line)) stop(out.failure!.code);
  };
  let maxSoFar = 0;
  let group: { label: string; members: readonly Member[] } | undefined;
  const { rounds, summary, error } = targets.kind === 'group'
    ? await watchGroup(targets.source, {
      ...opts,
      select: targets.select,
      signal: controller.signal,
      onRound: (r, g) => {
        maxSoFar = Math.max(maxSoFar, r.dirtyPages);
        emit({ ...roundJson(r), ...groupRoundJson(g) });
        const line = views.round(r, g.group.scans, roundLine(r, maxSoFar)) + groupRoundNote(g);
        if (!values.json) print(line);
      },
    }).then((w) => {
      group = { label: targets.source.label, members: w.tracker.members() };
      return w;
    })
    : await watch(targets.pid, {
      ...opts,
      select: targets.select,
      signal: controller.signal,
      onRound: (r, scan) => {
        maxSoFar = Math.max(maxSoFar, r.dirtyPages);
        emit(roundJson(r));
        const line = views.round(r, scan, roundLine(r, maxSoFar));
        if (!values.json) print(line);
      },
    });
  const est = bandwidth === undefined ? undefined : estimatePrecopy({
    // --vm: round 0 of a migration sends the guest's RAM (zero pages almost free), not QEMU's resident size
    ...(targets.kind === 'single' && targets.vm ? vmPrecopyInput(targets.pid, targets.vm) : { residentBytes: summary.residentBytes }),
    dirtyBytesPerSec: summary.steadyPagesPerSec * PAGE_SIZE,
    workingSetBytes: summary.workingSetPages * PAGE_SIZE,
    bandwidthBytesPerSec: bandwidth,
    maxDowntimeMs: downtimeMs,
  });
  emit({ ...summaryJson(summary, est, PAGE_SIZE), ...(group ? groupSummaryJson(group.label, group.members) : {}) });
  const groupLines = group ? groupSummaryLines(group.label, group.members) : [];
  out?.close();
  const text = [summaryText(summary, rounds, PAGE_SIZE, est, bandwidth), ...groupLines, ...views.summaryLines()].join('\n');
  // The summary goes where it still can: stdout, else stderr.
  if (!stdoutOpen()) process.stderr.write(text + '\n');
  else if (!values.json) print(text);
  const heatmapError = views.finish(summary, group?.label);
  if (heatmapError) process.stderr.write(`dirtytrack: ${heatmapError}\n`);
  if (summary.leftInTarget) process.stderr.write(`dirtytrack: tracking could not be removed from ${summary.pid} (${summary.leftInTarget}); remove it with 'dirtytrack detach ${summary.pid}' as root\n`);
  const outputFailure = out?.failure ?? stdoutFailed();
  if (outputFailure) process.stderr.write(`dirtytrack: cannot write ${outputFailure.where} (${outputFailure.code}): watch stopped after ${summary.rounds} rounds${summary.leftInTarget ? '' : ', tracking removed'}\n`);
  if (error !== undefined) {
    process.stderr.write(errorText(error));
    return exitCodeFor(error);
  }
  const signal = STOP_SIGNALS.find((s) => s === summary.interruptedBy);
  if (signal) return SIGNAL_EXIT[signal];
  if (outputFailure) return outputFailure.exitCode;
  return heatmapError ? EXIT.output : EXIT.ok;
}
