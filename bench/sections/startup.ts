// Section 10: start-up: `dirtytrack scan PID` from process start to exit, against bare `node -e 0`.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { markdownTable } from '../../experiments/lib/report.js';
import { withBigTarget } from '../lib/big-target.js';
import { MiB, pagesOfBytes, type Section } from '../lib/context.js';
import { cbin } from '../lib/cbin.js';
import { fmt, num, stats, type Stats } from '../lib/stats.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** What npm installs as the `dirtytrack` command: the bundle package.json's bin names (scripts/bundle-cli.mjs). */
const BIN = ROOT + (JSON.parse(readFileSync(ROOT + 'package.json', 'utf8')) as { bin: { dirtytrack: string } }).bin.dirtytrack;
/** The same CLI as tsc compiled it, many small ES modules: how the command ran before it was bundled. */
const UNBUNDLED = ROOT + 'dist/cli/bin.js';
/** ms over bare Node, medians over the rounds. */
const GOAL_REPEATED_MS = 20;
const GOAL_FIRST_MS = 35;

/** Wall-clock and CPU ms from fork to exit (bench/run-timed.c); fails unless the command exits 0. */
function run(argv: string[]): { wall: number; cpu: number } {
  const r = spawnSync(cbin('run-timed'), argv, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const t = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { wallNs: number; cpuNs: number; status: number };
  if (r.status !== 0 || t.status !== 0) throw new Error(`${argv.join(' ')} exited ${t.status ?? r.status}: ${r.stderr}`);
  return { wall: t.wallNs / 1e6, cpu: t.cpuNs / 1e6 };
}

interface Row { what: string; ms: Stats; over: Stats; cpu: Stats; cpuOver: Stats; goal?: number }

export const startup: Section = {
  id: 10,
  title: 'Start-up: one `dirtytrack scan` from process start to exit',
  async run(ctx) {
    const rounds = ctx.quick ? 3 : 15;
    // The installed form, fresh: dist/ compiled by tsc, then the CLI bundled.
    const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
    if (build.status !== 0) throw new Error('npm run build failed');
    // An older build's CLI entry (its own addon beside it), for before/after rows in the same rounds.
    const baseline = process.env.BENCH_BASELINE_CLI;
    const baselineLabel = process.env.BENCH_BASELINE_LABEL ?? baseline;
    if (baseline && !existsSync(baseline)) throw new Error(`BENCH_BASELINE_CLI: no such file ${baseline}`);
    const node = process.execPath;
    const res = await withBigTarget({ regionPages: pagesOfBytes(16 * MiB), populateEvery: 4 }, (t) => {
      const pid = String(t.pid);
      const cmds: Array<{ what: string; argv: string[]; before?: string[]; goal?: number }> = [
        { what: 'node -e 0', argv: [node, '-e', '0'] },
        { what: 'dirtytrack --help (the CLI loaded, nothing probed)', argv: [node, BIN, '--help'] },
        { what: 'scan PID, target already attached (auto)', argv: [node, BIN, 'scan', pid], goal: GOAL_REPEATED_MS },
        { what: 'scan PID --backend uffd-wp, already attached (no auto probes)', argv: [node, BIN, 'scan', pid, '--backend', 'uffd-wp'] },
        { what: 'first scan PID (auto: attaches, then scans)', argv: [node, BIN, 'scan', pid], before: [node, BIN, 'detach', pid], goal: GOAL_FIRST_MS },
        { what: 'unbundled (node dist/cli/bin.js, tsc output): scan PID, already attached (auto)', argv: [node, UNBUNDLED, 'scan', pid] },
        ...(baseline ? [
          { what: `before (${baselineLabel}): scan PID, already attached`, argv: [node, baseline, 'scan', pid] },
          { what: `before (${baselineLabel}): first scan PID`, argv: [node, baseline, 'scan', pid], before: [node, baseline, 'detach', pid] },
        ] : []),
      ];
      run([node, BIN, 'clear', pid]); // attach once and leave tracking armed, as `dirtytrack clear` does
      const ms = cmds.map(() => [] as number[]), over = cmds.map(() => [] as number[]);
      const cpu = cmds.map(() => [] as number[]), cpuOver = cmds.map(() => [] as number[]);
      for (let r = 0; r < rounds + 1; r++) {
        const round = cmds.map((c) => {
          if (c.before) run(c.before);
          return run(c.argv);
        });
        if (r === 0) continue; // warm-up: page cache, the addon's first load
        round.forEach((x, i) => {
          ms[i].push(x.wall);
          over[i].push(x.wall - round[0].wall);
          cpu[i].push(x.cpu);
          cpuOver[i].push(x.cpu - round[0].cpu);
        });
      }
      run([node, BIN, 'detach', pid]);
      return cmds.map((c, i): Row => ({ what: c.what, ms: stats(ms[i]), over: stats(over[i]), cpu: stats(cpu[i]), cpuOver: stats(cpuOver[i]), goal: c.goal }));
    });
    const judged = res.filter((r) => r.goal !== undefined);
    const markdown = [
      `A bench/big-target.c process (16 MiB mapped, one page in 4 touched, plus its program's ~20 mappings). Each command is a fresh process, timed from fork to exit by bench/run-timed.c (wall clock, and CPU time from wait4), as a user runs it: \`node ${BIN.slice(ROOT.length)} …\`, the file package.json's bin names (tsc's dist/ bundled by esbuild into one CommonJS file, scripts/bundle-cli.mjs). ${rounds} rounds after a warm-up round; each round runs every command once, in the order below, and "over bare Node" is a command's time minus \`node -e 0\`'s in the same round (median and p25–p75 over the rounds), so that the machine's load cancels as far as it can. "Already attached": tracking was left armed by an earlier command (\`dirtytrack clear\`), as between the commands of a user's session; "first": \`dirtytrack detach\` ran just before (not timed), so the scan probes, injects the userfaultfd and registers every region. The unbundled row runs the same code as tsc compiled it, many small ES modules (\`node dist/cli/bin.js\`, how the command ran before it was bundled): its difference from the row "scan PID, target already attached (auto)" is what Node 20 spends loading them.${baseline ? ' Rows marked "before" run an older build of the CLI (its own dist/ and addon) in the same rounds.' : ''}`,
      '',
      markdownTable(['command', 'wall ms', 'over bare Node, wall ms', 'CPU ms', 'over bare Node, CPU ms', 'goal (wall)'], res.map((r) => [r.what, fmt(r.ms), fmt(r.over), fmt(r.cpu), fmt(r.cpuOver), r.goal === undefined ? '—' : `≤ ${r.goal} ms: ${r.over.median <= r.goal ? 'met' : 'missed'}`])),
      '',
      'Wall time is what a user waits; CPU time (user + system of the process and its children, from wait4) is what the command itself costs, and unlike wall time it does not grow when other processes keep the CPUs busy, so where the two disagree, the machine was busy.',
    ].join('\n');
    return {
      markdown,
      goals: judged.map((r) => ({ goal: `${r.what}: at most ${r.goal} ms over bare Node`, met: r.over.median <= r.goal!, measured: `${num(r.over.median, 1)} ms over (p25–p75 ${num(r.over.p25, 1)}–${num(r.over.p75, 1)}); bare Node ${num(res[0].ms.median, 1)} ms; CPU time ${num(r.cpuOver.median, 1)} ms over bare Node's ${num(res[0].cpu.median, 1)}` })),
      data: { rounds, rows: res },
    };
  },
};
