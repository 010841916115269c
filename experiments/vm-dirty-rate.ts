import { calcDirtyRate } from '../lab/migrate.js';
import { lineChartSvg } from './lib/plot.js';
import { environmentLine, markdownTable } from './lib/report.js';
import { qemuVersion, TrackedGuest, type Interval } from './lib/vm.js';
import type { Experiment } from './index.js';

const KERNEL = 'deb12';
const MEMORY = '768M';
const W = 32768;
// Rate 1: the writer's thread wakes every 10 ms even then; its kernel-side writes are the baseline.
const RATES = [1, 500, 2000, 10000, 30000];
const INTERVALS = 5;
const CALC_SAMPLES = 2;

interface Run { rate: number; intervals: Interval[]; calc: Array<{ mibs?: number; reason?: string }> }
interface Data { qemu: string; guestKernel: string; ramBytes: number; backend: string; idle: Interval[]; idleCalc: Array<{ mibs?: number; reason?: string }>; runs: Run[]; crashed?: string }

const perSec = (xs: Interval[], f: (i: Interval) => number) => (xs.reduce((a, i) => a + f(i), 0) * 1000) / Math.max(xs.reduce((a, i) => a + i.ms, 0), 1);
const MiB = 2 ** 20;
const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;

async function calcSamples(t: TrackedGuest): Promise<Data['idleCalc']> {
  const out: Data['idleCalc'] = [];
  for (let i = 0; i < CALC_SAMPLES; i++) {
    const r = await calcDirtyRate(t.guest.qmp, 1);
    out.push(r.ok ? { mibs: r.dirtyRateMiBs } : { reason: r.reason });
    if (!r.ok) break;
  }
  return out;
}

const calcPagesPerSec = (c: Data['idleCalc']) => {
  const ok = c.filter((x) => x.mibs !== undefined);
  return ok.length ? (ok.reduce((a, x) => a + x.mibs!, 0) / ok.length) * (MiB / 4096) : undefined;
};

export const vmDirtyRate: Experiment<Data> = {
  name: 'vm-dirty-rate',
  question: 'How well does dirtytrack, tracking a QEMU process from the host (guest RAM only), measure a guest\'s dirty rate, against the guest\'s truth and QEMU\'s own calc-dirty-rate?',
  async measure() {
    const t = await TrackedGuest.boot(KERNEL, MEMORY);
    const data: Data = { qemu: qemuVersion(), guestKernel: t.guest.kernelRelease, ramBytes: t.ram.ramBytes, backend: t.backend.name, idle: [], idleCalc: [], runs: [] };
    try {
      for (let i = 0; i < INTERVALS; i++) data.idle.push(await t.interval(1000, false));
      data.idleCalc = await calcSamples(t);
      for (const rate of RATES) {
        await t.startWriter(W, rate);
        await t.interval(1000); // warm-up: the writer's first pages, THP splits
        const run: Run = { rate, intervals: [], calc: [] };
        for (let i = 0; i < INTERVALS; i++) run.intervals.push(await t.interval(1000));
        run.calc = await calcSamples(t);
        data.runs.push(run);
        if (run.calc.some((c) => c.reason)) {
          data.crashed = run.calc.find((c) => c.reason)!.reason;
          if (t.guest.qmp.closed) break;
        }
      }
    } finally {
      await t.stop();
    }
    return data;
  },
  async render(envs) {
    const md = ['# vm-dirty-rate: a guest\'s dirty rate seen from the host', ''];
    const files: Record<string, string> = {};
    const answers: string[] = [];
    let ok = envs.length > 0;
    for (const { env, data } of envs) {
      const idle = perSec(data.idle, (i) => i.ram);
      md.push(`## ${env.tag}`, '', environmentLine(env, data.backend), '',
        `Guest: Debian kernel ${data.guestKernel}, ${data.ramBytes / MiB} MiB RAM, QEMU ${data.qemu} (TCG), booted by lab/vm-guest.ts. In the guest, \`rate-writer --pages ${W} --rate R\` (uniform: a fixed permutation of its pages, so an interval with n ≤ ${W} writes dirties n distinct pages). On the host, dirtytrack (${data.backend}) clears and scans the whole QEMU process every second; "guest RAM" counts only the mappings \`--vm\` selects (src/targets/vm.ts). Truth: the writer's completed-write count, read over the guest's serial control channel right after each reset (the channel's latency falls on both ends of the interval). calc-dirty-rate: QEMU's page-sampling mode, 1 s, 512 sampled pages per GiB (its dirty-bitmap mode crashed QEMU 7.2 under TCG, so it is never used). ${INTERVALS} one-second intervals per rate.`, '',
        `Idle guest (no writer): ${idle.toFixed(0)} pages/s in guest RAM (the guest kernel and the in-guest agent), ${perSec(data.idle, (i) => i.process).toFixed(0)} pages/s in the whole QEMU process; calc-dirty-rate ${calcPagesPerSec(data.idleCalc)?.toFixed(0) ?? 'n/a'} pages/s.`, '');
      const base = data.runs.find((r) => r.rate === 1);
      const baseline = base ? perSec(base.intervals, (i) => i.ram - i.truth) : idle;
      md.push(`Writer running at 1 page/s (its thread still wakes every 10 ms): ${baseline.toFixed(0)} pages/s in guest RAM beside its own writes — the guest kernel's timer, scheduler and page-table work for a running thread, the writer's stack and counter. These are real writes QEMU must send too; the "after baseline" column subtracts them to compare with the writer's own truth.`, '');
      const rows = data.runs.filter((r) => r.rate !== 1).map((r) => {
        const truth = perSec(r.intervals, (i) => i.truth);
        const ram = perSec(r.intervals, (i) => i.ram);
        const calc = calcPagesPerSec(r.calc);
        return { r, truth, ram, proc: perSec(r.intervals, (i) => i.process), calc };
      });
      md.push(markdownTable(['target rate (pages/s)', 'truth (pages/s)', 'dirtytrack, guest RAM', 'error', 'error after baseline', 'whole QEMU process', 'calc-dirty-rate (pages/s)', 'its error'],
        rows.map(({ r, truth, ram, proc, calc }) => [r.rate, truth.toFixed(0), ram.toFixed(0), pct(ram / truth - 1), pct((ram - baseline) / truth - 1), proc.toFixed(0),
          calc === undefined ? `failed: ${r.calc.find((c) => c.reason)?.reason}` : `${calc.toFixed(0)} (${r.calc.map((c) => c.mibs ?? 'fail').join(', ')} MiB/s)`, calc === undefined ? '' : pct(calc / truth - 1)])), '');
      if (data.crashed) md.push(`calc-dirty-rate failed: ${data.crashed}.`, '');
      const svg = `vm-dirty-rate-${env.tag}.svg`;
      files[svg] = await lineChartSvg({
        title: `guest dirty rate seen from the host (${data.guestKernel}, QEMU ${data.qemu})`, x: 'guest writer truth (pages/s)', y: 'measured (pages/s)',
        series: [
          { name: 'truth', points: rows.map((x) => ({ x: x.truth, y: x.truth })) },
          { name: `dirtytrack ${data.backend}, guest RAM`, points: rows.map((x) => ({ x: x.truth, y: x.ram })) },
          { name: 'QEMU calc-dirty-rate (page-sampling)', points: rows.filter((x) => x.calc !== undefined).map((x) => ({ x: x.truth, y: x.calc! })) },
        ],
      });
      md.push(`![measured against true dirty rate](${svg})`, '');
      const worstTrack = Math.max(...rows.map((x) => Math.abs((x.ram - baseline) / x.truth - 1)));
      const calcErrs = rows.filter((x) => x.calc !== undefined).map((x) => x.calc! / x.truth - 1);
      ok &&= worstTrack < 0.05;
      md.push('### What this means for a pre-copy convergence estimate', '',
        `Pre-copy converges when the rate at which pages are dirtied stays well below the bandwidth, and the pages left at the end (≈ dirty rate × last round's time, capped by the working set) decide the downtime. dirtytrack's rate from the host is within ${(worstTrack * 100).toFixed(1)} % of the guest's truth once the ${baseline.toFixed(0)} pages/s the guest kernel writes for a running writer are counted apart — and those pages are real: QEMU must send them too, so the estimate should keep them. calc-dirty-rate's error ranged from ${pct(Math.min(...calcErrs))} to ${pct(Math.max(...calcErrs))}: it samples 512 pages per GiB, hashes them twice one second apart and reports whole MiB/s (256 pages/s steps), so it cannot see rates below a few hundred pages/s and its figure moves between samples. Fed with it, an estimate's final round and downtime scale with its error, and near the convergence boundary (dirty rate ≈ bandwidth) an error of this size flips the verdict. It also gives no working set: it cannot tell 10,000 pages/s over 32,768 pages (bounded: the final round is at most the working set) from the same rate over fresh pages. dirtytrack's clear/scan gives both the rate and the set (results/live-migration.md checks the resulting estimate against real migrations). Whole-process tracking adds QEMU's own writes (the TCG code buffer, device state, heap), which a hypervisor does not send as guest RAM: that is what \`--vm\` removes.`, '');
      answers.push(`${env.tag}: from the host, dirtytrack (${data.backend}) on the QEMU process's guest RAM measured ${rows.map((x) => `${x.ram.toFixed(0)}`).join(', ')} pages/s for guest truths of ${rows.map((x) => x.truth.toFixed(0)).join(', ')} (guest kernel and writer overhead ${baseline.toFixed(0)} pages/s); QEMU's calc-dirty-rate said ${rows.map((x) => x.calc?.toFixed(0) ?? 'n/a').join(', ')}`);
    }
    return { markdown: md.join('\n'), answer: answers.join('; ') + '.', ok, files };
  },
};
