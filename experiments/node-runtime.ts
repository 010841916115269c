import { watch } from '../src/watch/loop.js';
import { regionKind } from '../src/proc/maps.js';
import { experimentBackendChoice } from './lib/lockstep.js';
import { bandShare, bandSpread, heatData, heatDataSvg, loadHeat, saveHeat, type HeatData, type SavedHeat } from './lib/heat.js';
import { HeatmapRecorder } from '../src/report/heatmap.js';
import { lineChartSvg } from './lib/plot.js';
import { environmentLine, markdownTable } from './lib/report.js';
import { Target } from './lib/target.js';
import type { Experiment } from './index.js';

const ROUNDS = 20, INTERVAL = 200;
const CLASSES = ['anonymous (V8 heap, malloc arenas)', '[heap] (brk)', 'stack', 'file-backed (node, libraries)', 'other'] as const;

function classify(path: string, kind: ReturnType<typeof regionKind>): (typeof CLASSES)[number] {
  if (kind === 'anon') return CLASSES[0];
  if (kind === 'heap') return CLASSES[1];
  if (kind === 'stack') return CLASSES[2];
  if (kind === 'file' && path) return CLASSES[3];
  return CLASSES[4];
}

interface Case { label: string; rounds: Array<{ round: number; total: number; byClass: Record<string, number> }>; workingSet: number; reason: string; requests: number; heapBytes: number; heat?: SavedHeat }
interface Data { backend: string; cases: Case[] }

async function observe(label: string, args: string[], start: boolean): Promise<Case> {
  const t = await Target.spawn('node-service.mjs', args);
  try {
    if (start) await t.command('start');
    await new Promise((r) => setTimeout(r, 500)); // past start-up
    const rounds: Case['rounds'] = [];
    const heat = new HeatmapRecorder();
    const { summary } = await watch(t.pid, {
      backend: experimentBackendChoice(), intervalMs: INTERVAL, tolerance: 0.05, stable: 3, maxRounds: ROUNDS, timeoutMs: 60_000,
      // Run every round: the question is what the runtime does, not when it settles.
      onRound: (r, scan) => {
        const byClass: Record<string, number> = Object.fromEntries(CLASSES.map((c) => [c, 0]));
        for (const reg of scan.regions) byClass[classify(reg.region.path, regionKind(reg.region))] += reg.dirtyPages;
        rounds.push({ round: r.round, total: r.dirtyPages, byClass });
        heat.add(r.intervalMs, scan);
      },
    });
    const status = await t.command('status');
    return { label, rounds, workingSet: summary.workingSetPages, reason: summary.reason, requests: status.requests, heapBytes: status.usedHeapBytes,
      heat: heat.size ? saveHeat(heatData([{ title: label, run: heat.run() }])) : undefined };
  } finally {
    await t.exit();
  }
}

/** What the heatmaps show of the tallest [anon] band (V8's heap with thread stacks and malloc arenas), with the numbers. */
function heapSentence(cases: Array<{ label: string; heat: HeatData }>, pageSize: number): string {
  const mib = (pages: number) => `${((pages * pageSize) / 2 ** 20).toFixed(1)} MiB`;
  const parts = cases.map((c) => {
    const d = c.heat;
    const anon = d.layout.bands.map((b, i) => [b, i] as const).filter(([b]) => b.label === '[anon]').sort((a, b) => b[0].pages - a[0].pages)[0];
    if (!anon) return `${c.label}: no anonymous band`;
    const s = bandSpread(d, 0, anon[1]);
    const median = [...bandShare(d, 0, '[anon]')].sort((a, b) => a - b)[Math.floor(d.layout.columns.length / 2)] ?? 0;
    return `${c.label}: ${mib(s.busyPages)} of its ${mib(s.pages)} are written in most rounds and take ${Math.round(100 * s.busyShare)} % of its writes, ${mib(s.untouchedPages)} are never written (${(100 * median).toFixed(1)} % of all anonymous pages written in the median round)`;
  });
  return `Each heatmap's tall [anon] band is V8's heap (many small anonymous mappings, merged into one band) with the threads' stacks and malloc's arenas; the picture shows how few of its pages the runtime keeps rewriting. ${parts.join('; ')}.`;
}

export const nodeRuntime: Experiment<Data> = {
  name: 'node-runtime',
  question: 'How does the Node runtime itself dirty memory, idle and serving requests?',
  async measure() {
    const cases = [
      await observe('idle Node process', [], false),
      await observe('service at 500 requests/s', ['--rate', '500'], true),
      await observe('service at 5000 requests/s', ['--rate', '5000'], true),
    ];
    return { backend: experimentBackendChoice(), cases };
  },
  async render(envs) {
    const md = ['# node-runtime: how a Node process dirties its own memory', '',
      `\`workloads/node-service.mjs\` allocates per request (JSON parse and stringify of a ~0.5 KiB body, an LRU cache of 5000 entries) and lets V8's garbage collector run. \`watch\` at ${INTERVAL} ms for up to ${ROUNDS} rounds; dirty pages per round are split by the kind of mapping they fall in. No page-level truth exists for what a runtime writes: these are measurements.`, ''];
    const answers: string[] = [];
    const files: Record<string, string> = {};
    for (const { env, data } of envs) {
      md.push(`## ${env.tag}: kernel ${env.kernel}`, '', environmentLine(env, data.backend), '');
      const rows = data.cases.map((c) => {
        const mean = (f: (r: Case['rounds'][number]) => number) => c.rounds.reduce((a, r) => a + f(r), 0) / Math.max(c.rounds.length, 1);
        return [c.label, c.reason, c.rounds.length, mean((r) => r.total), ...CLASSES.map((k) => mean((r) => r.byClass[k])), c.workingSet, c.requests];
      });
      md.push(markdownTable(['case', 'stopped', 'rounds', 'mean dirty pages / round', ...CLASSES, 'working set (pages)', 'requests served'], rows), '');
      const svg = `node-runtime-${env.tag}.svg`;
      files[svg] = await lineChartSvg({ title: `Node runtime: dirty pages per ${INTERVAL} ms round (${env.tag})`, x: 'round', y: 'pages',
        series: data.cases.map((c) => ({ name: c.label, points: c.rounds.map((r) => ({ x: r.round, y: r.total })) })) });
      md.push(`![node runtime](${svg})`, '');
      const heated = data.cases.flatMap((c) => (c.heat ? [{ label: c.label, heat: loadHeat(c.heat) }] : []));
      for (const c of heated) {
        const name = `node-runtime-heat-${heated.indexOf(c)}-${env.tag}.svg`;
        files[name] = heatDataSvg(c.heat, `Node runtime, ${c.label} (${env.tag}, ${data.backend}): pages written per ${INTERVAL} ms round`);
        md.push(`![${c.label}](${name})`, '');
      }
      if (heated.length) md.push(heapSentence(heated, heated[0].heat.layout.pageSize), '');
      const m = (c: Case) => Math.round(c.rounds.reduce((a, r) => a + r.total, 0) / Math.max(c.rounds.length, 1));
      answers.push(`${env.tag} (${data.backend}): an idle Node process dirties about ${m(data.cases[0])} pages per ${INTERVAL} ms; serving 500 and 5000 requests/s, ${m(data.cases[1])} and ${m(data.cases[2])}, mostly in anonymous mappings (V8's heap)`);
    }
    return { markdown: md.join('\n'), answer: answers.join('; ') + '.', ok: envs.length > 0, files };
  },
};
