import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { EXPERIMENTS, type Experiment, type Rendered } from './index.js';
import { localTrackingProblem } from './lib/local.js';
import { environment, loadMeasured, RESULTS_DIR, saveMeasured, writeResult } from './lib/report.js';

const USAGE = `usage: npm run experiment -- <all|${EXPERIMENTS.map((e) => e.name).join('|')}> … [--kernel deb12|deb13] [--render]
  --kernel K   run inside the kernel lab's guest K (results are collected back)
  --render     only re-render results/*.md from the measurements saved in results/data/`;

/** Run a command line inside a lab kernel, collecting results/ back. */
function inLab(kernel: string, names: string[]): number {
  const criu = EXPERIMENTS.some((e) => e.criu && names.includes(e.name)) ? ['--criu'] : [];
  const r = spawnSync('npx', ['tsx', 'lab/lab.ts', '--kernel', kernel, ...criu, '--collect', 'results', '--', 'node_modules/.bin/tsx', 'experiments/run.ts', ...names], { stdio: 'inherit' });
  return r.status ?? 1;
}

async function render(e: Experiment): Promise<Rendered> {
  const r = await e.render(loadMeasured(e.name));
  writeResult(e.name, r.markdown, r.files);
  return r;
}

function writeIndex(rendered: Array<{ e: Experiment; r: Rendered }>): void {
  const lines = [
    '# dirtytrack lab report',
    '',
    'Each question is answered by one experiment (`npm run experiment -- <name>`) from real runs against targets that report their own ground truth; the raw measurements are in `data/`. `npm run experiment -- all` regenerates every file here: natively, then, for the kernel-dependent questions, inside the Debian 12 (6.1) and Debian 13 (6.12) kernels of the lab.',
    '',
  ];
  for (const { e, r } of rendered) lines.push(`## ${e.question}`, '', `[${e.name}](${e.name}.md): ${r.answer}`, '');
  writeFileSync(RESULTS_DIR + 'README.md', lines.join('\n'));
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { kernel: { type: 'string' }, render: { type: 'boolean' } } });
  const all = positionals.includes('all');
  const chosen = all ? EXPERIMENTS : EXPERIMENTS.filter((e) => positionals.includes(e.name));
  if (chosen.length === 0 || (!all && chosen.length !== positionals.length)) {
    process.stderr.write(USAGE + '\n');
    return 2;
  }
  if (values.kernel) return inLab(values.kernel, chosen.map((e) => e.name));

  let status = 0;
  if (!values.render) {
    const problem = process.env.DIRTYTRACK_LAB ? null : localTrackingProblem();
    if (problem) {
      process.stderr.write(`experiment: this machine's kernel cannot track writes (${problem})\nexperiment: running inside the kernel lab (deb13) instead\n`);
      return inLab('deb13', chosen.map((e) => e.name));
    }
    const env = environment();
    for (const e of chosen) {
      if (e.criu && !process.env.DIRTYTRACK_LAB) {
        if (inLab('deb13', [e.name]) !== 0) status = 1; // CRIU exists only in the lab guest
        continue;
      }
      process.stderr.write(`experiment ${e.name} (${env.tag}, kernel ${env.kernel}): ${e.question}\n`);
      saveMeasured(e.name, env, await e.measure());
      const r = await render(e);
      process.stderr.write(`  → results/${e.name}.md: ${r.answer}\n`);
      if (!r.ok) status = 1;
    }
    if (all && !process.env.DIRTYTRACK_LAB) {
      const kernelDependent = chosen.filter((e) => e.kernels).map((e) => e.name);
      for (const k of ['deb12', 'deb13']) if (inLab(k, kernelDependent) !== 0) status = 1;
    }
  }
  if (all && !process.env.DIRTYTRACK_LAB) {
    const rendered = [];
    for (const e of chosen) rendered.push({ e, r: await render(e) });
    writeIndex(rendered);
  }
  return status;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err) => {
  process.stderr.write(`experiment failed: ${err?.stack ?? err}\n`);
  process.exitCode = 1;
});
