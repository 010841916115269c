// Section 7: the tracker's own memory while scanning a large address space (peak RSS of a child process).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, statSync, readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { markdownTable } from '../../experiments/lib/report.js';
import { BigTarget } from '../lib/big-target.js';
import { BENCH_DIR, BIN_DIR } from '../lib/cbin.js';
import { GiB, MiB, pagesOfBytes, sizeLabel, type Section } from '../lib/context.js';
import { num } from '../lib/stats.js';
import { uffdWp } from '../lib/uffd.js';

const GOAL_MIB = 100;
const TOUCH_EVERY = 4;
const ROOT = new URL('../../', import.meta.url);

/** Newest mtime of the sources the child is built from. */
function newestSource(): number {
  let newest = 0;
  for (const dir of ['src', 'bench']) {
    const d = new URL(dir + '/', ROOT);
    for (const f of readdirSync(d, { recursive: true }) as string[]) if (f.endsWith('.ts')) newest = Math.max(newest, statSync(new URL(f, d)).mtimeMs);
  }
  return newest;
}

/**
 * The child as one plain-JavaScript file run by `node` with no loader, as an installed dirtytrack runs
 * (dist/ is compiled the same way): bundled with esbuild. import.meta.url is pinned to src/ so the
 * native addon resolves as it does from src/ and dist/. Falls back to tsx when esbuild is missing.
 */
async function childCommand(): Promise<{ argv: string[]; how: string }> {
  const out = BIN_DIR + 'scan-child.mjs';
  try {
    if (!existsSync(out) || statSync(out).mtimeMs < newestSource()) {
      const esbuild = await import('esbuild');
      mkdirSync(BIN_DIR, { recursive: true });
      await esbuild.build({
        entryPoints: [BENCH_DIR + 'scan-child.ts'], outfile: out, bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'error',
        define: { 'import.meta.url': JSON.stringify(pathToFileURL(new URL('../../src/native/binding.ts', import.meta.url).pathname).href) },
      });
    }
    return { argv: [process.execPath, out], how: 'plain node running an esbuild bundle of bench/scan-child.ts' };
  } catch (err) {
    return { argv: [process.execPath, '--import', 'tsx', BENCH_DIR + 'scan-child.ts'], how: `node with the tsx loader (esbuild bundle failed: ${(err as Error).message}); tsx adds its own memory` };
  }
}

interface ChildResult { vmHWMKiB: number; vmRSSKiB: number; dirtyPages: number; ranges: number; scanMs: number[] }

async function runChild(argv: string[], args: string[], between: () => Promise<void>): Promise<ChildResult> {
  const child = spawn(argv[0], [...argv.slice(1), ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`scan child exited (code ${child.exitCode})`);
    return JSON.parse(value);
  };
  const exited = new Promise((resolve) => child.once('exit', resolve));
  if ((await next()).event !== 'ready') throw new Error('scan child: no ready line');
  await between();
  child.stdin!.write('go\n');
  const r = await next();
  await exited;
  return r as ChildResult;
}

export const trackerMemory: Section = {
  id: 7,
  title: "The tracker's own memory",
  async run(ctx) {
    const bytes = ctx.quick ? 64 * MiB : 16 * GiB;
    const reps = ctx.quick ? 1 : 3;
    const { argv, how } = await childCommand();
    const uffd = await uffdWp();
    ctx.log(`  target ${sizeLabel(bytes)}, child: ${how}`);
    const t = await BigTarget.spawn({ regionPages: pagesOfBytes(bytes), populateEvery: TOUCH_EVERY });
    const rows: Array<{ what: string; r: ChildResult; goal: boolean }> = [];
    try {
      const base = ['--pid', String(t.pid), '--reps', String(reps)];
      rows.push({ what: 'baseline: same code loaded, no scan', r: await runChild(argv, [...base, '--method', 'none'], async () => {}), goal: false });
      rows.push({ what: `pread reader (soft-dirty scan path), ${reps} scans`, r: await runChild(argv, [...base, '--method', 'pread'], async () => {}), goal: true });
      if (!('reason' in uffd)) {
        for (const [every, label, goal] of [[100, '1 % of touched pages written', true], [1, 'every touched page written (worst case: one range per page)', true]] as const) {
          rows.push({ what: `uffd-wp scan, ${label}`, r: await runChild(argv, [...base, '--method', 'uffd-wp'], async () => { await t.write(every); }), goal });
        }
      }
    } finally {
      await t.exit();
    }
    const mib = (kib: number) => kib / 1024;
    const baseHwm = mib(rows[0].r.vmHWMKiB);
    const judged = rows.filter((x) => x.goal);
    const worst = Math.max(...judged.map((x) => mib(x.r.vmHWMKiB)));
    const markdown = [
      `Target: ${sizeLabel(bytes)} mapped (one region, one page in ${TOUCH_EVERY} touched: ${t.ready.populatedPages} pages resident). Each row is a fresh tracker process (${how}) that scans it and then reports its own VmHWM (peak resident set) from /proc/self/status.`,
      '',
      markdownTable(['tracker process', 'peak RSS (VmHWM) MiB', 'over baseline MiB', 'RSS at end MiB', 'dirty pages reported', 'ranges', 'scan ms'],
        rows.map(({ what, r }) => [what, num(mib(r.vmHWMKiB), 1), num(mib(r.vmHWMKiB) - baseHwm, 1), num(mib(r.vmRSSKiB), 1), r.dirtyPages, r.ranges, r.scanMs.length ? r.scanMs.map((x) => num(x, 1)).join(', ') : '—'])),
      '',
      `The pread reader holds one 512 KiB buffer whatever the size scanned; what grows is the result: 16 bytes per dirty range (a Float64Array of runs, handed over by the addon without a copy once it passes 1 MiB; the [start, end] pairs are made only when a caller asks for them). Results of earlier scans stay in memory until the collector runs${'reason' in uffd ? '' : ', as the worst-case uffd-wp row shows'}.${'reason' in uffd ? ` uffd-wp not measured: ${uffd.reason}.` : ''}`,
    ].join('\n');
    return {
      markdown,
      goals: [{ goal: `peak RSS under ${GOAL_MIB} MiB scanning ${sizeLabel(bytes)} mapped`, met: worst < GOAL_MIB, measured: `${num(worst, 1)} MiB (${judged.map((x) => `${x.what}: ${num(mib(x.r.vmHWMKiB), 1)}`).join("; ")})` }],
      data: { bytes, how, rows },
    };
  },
};
