// Section 10: start-up: `dirtytrack scan PID` from process start to exit, against bare `node -e 0`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { markdownTable } from '../../experiments/lib/report.js';
import { withBigTarget } from '../lib/big-target.js';
import { MiB, pagesOfBytes, type Section } from '../lib/context.js';
import { fmt, msSince, nowNs, num, stats, type Stats } from '../lib/stats.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = ROOT + 'dist/cli/bin.js';
/** ms over bare Node, medians over the rounds. */
const GOAL_REPEATED_MS = 20;
const GOAL_FIRST_MS = 35;

/** Wall-clock ms from spawn to exit; fails unless the command exits 0. */
function run(argv: string[]): number {
  const t0 = nowNs();
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = msSince(t0);
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

interface Row { what: string; ms: Stats; over: Stats; goal?: number }

export const startup: Section = {
  id: 10,
  title: 'Start-up: one `dirtytrack scan` from process start to exit',
  async run(ctx) {
    const rounds = ctx.quick ? 3 : 15;
    // The installed form: dist/ compiled by tsc, run by plain node.
    const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
    if (build.status !== 0) throw new Error('tsc -p tsconfig.build.json failed');
    const baseline = process.env.BENCH_BASELINE_CLI; // an older dist/cli/bin.js, for a before/after row
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
        ...(baseline ? [
          { what: `before: scan PID, already attached (${baseline})`, argv: [node, baseline, 'scan', pid] },
          { what: 'before: first scan PID', argv: [node, baseline, 'scan', pid], before: [node, baseline, 'detach', pid] },
        ] : []),
      ];
      run([node, BIN, 'clear', pid]); // attach once and leave tracking armed, as `dirtytrack clear` does
      const ms = cmds.map(() => [] as number[]);
      const over = cmds.map(() => [] as number[]);
      for (let r = 0; r < rounds + 1; r++) {
        const round = cmds.map((c) => {
          if (c.before) run(c.before);
          return run(c.argv);
        });
        if (r === 0) continue; // warm-up: page cache, the addon's first load
        round.forEach((x, i) => {
          ms[i].push(x);
          over[i].push(x - round[0]);
        });
      }
      run([node, BIN, 'detach', pid]);
      return cmds.map((c, i): Row => ({ what: c.what, ms: stats(ms[i]), over: stats(over[i]), goal: c.goal }));
    });
    const judged = res.filter((r) => r.goal !== undefined);
    const markdown = [
      `A bench/big-target.c process (16 MiB mapped, one page in 4 touched, plus its program's ~20 mappings). Each command is a fresh process, timed from spawn to exit by the bench (wall clock), as a user runs it: \`node dist/cli/bin.js …\` (dist/ compiled by tsc). ${rounds} rounds after a warm-up round; each round runs every command once, in the order below, and "over bare Node" is a command's time minus \`node -e 0\`'s in the same round (median and p25–p75 over the rounds), so that the machine's load cancels as far as it can. "Already attached": tracking was left armed by an earlier command (\`dirtytrack clear\`), as between the commands of a user's session; "first": \`dirtytrack detach\` ran just before (not timed), so the scan probes, injects the userfaultfd and registers every region.${baseline ? ' Rows marked "before" run an older build of the CLI in the same rounds.' : ''}`,
      '',
      markdownTable(['command', 'ms', 'over bare Node, ms', 'goal'], res.map((r) => [r.what, fmt(r.ms), fmt(r.over), r.goal === undefined ? '—' : `≤ ${r.goal} ms: ${r.over.median <= r.goal ? 'met' : 'missed'}`])),
    ].join('\n');
    return {
      markdown,
      goals: judged.map((r) => ({ goal: `${r.what}: at most ${r.goal} ms over bare Node`, met: r.over.median <= r.goal!, measured: `${num(r.over.median, 1)} ms over (p25–p75 ${num(r.over.p25, 1)}–${num(r.over.p75, 1)}); bare Node ${num(res[0].ms.median, 1)} ms` })),
      data: { rounds, rows: res },
    };
  },
};
