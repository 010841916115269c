import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { kernelRelease, thpMode } from '../../src/kernel/info.js';

export const RESULTS_DIR = fileURLToPath(new URL('../../results/', import.meta.url));
const DATA_DIR = RESULTS_DIR + 'data/';

export type Cell = string | number | boolean | null | undefined;

function cell(v: Cell): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return String(v);
    return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3);
  }
  return String(v).replace(/\|/g, '\\|');
}

export function markdownTable(header: string[], rows: Cell[][]): string {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');
}

export interface Environment {
  /** "host", "deb12" or "deb13": where the numbers come from. */
  tag: string;
  kernel: string;
  where: string;
  thp: string;
  node: string;
  date: string;
}

/** Where this run happens: the kernel lab sets DIRTYTRACK_LAB inside its guests. */
export function environment(): Environment {
  const lab = process.env.DIRTYTRACK_LAB;
  return {
    tag: lab ?? 'host',
    kernel: kernelRelease(),
    where: lab ? `kernel lab guest ${lab} (QEMU software emulation: times are not performance figures)` : 'this machine, natively',
    thp: thpMode() ?? 'absent',
    node: process.version,
    date: new Date().toISOString().slice(0, 10),
  };
}

export function environmentLine(env: Environment, backend?: string): string {
  return `kernel ${env.kernel}${backend ? `, backend ${backend}` : ''}; ${env.where}; transparent huge pages ${env.thp}; Node ${env.node}; ${env.date}`;
}

export function saveMeasured(name: string, env: Environment, data: unknown): void {
  mkdirSync(DATA_DIR, { recursive: true });
  writeFileSync(DATA_DIR + `${name}.${env.tag}.json`, JSON.stringify({ env, data }, null, 1) + '\n');
}

/** Every environment measured for an experiment, host first, then the lab kernels. */
export function loadMeasured<D>(name: string): Array<{ env: Environment; data: D }> {
  let files: string[] = [];
  try {
    files = readdirSync(DATA_DIR).filter((f) => f.startsWith(`${name}.`) && f.endsWith('.json'));
  } catch {
    return [];
  }
  const order = (tag: string) => (tag === 'host' ? '0' : '1' + tag);
  return files.map((f) => JSON.parse(readFileSync(DATA_DIR + f, 'utf8'))).sort((a, b) => order(a.env.tag).localeCompare(order(b.env.tag)));
}

/** Write results/<name>.md (and any extra files beside it); returns the path. */
export function writeResult(name: string, markdown: string, extra: Record<string, string> = {}): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = RESULTS_DIR + `${name}.md`;
  writeFileSync(path, markdown.trimEnd() + '\n');
  for (const [file, content] of Object.entries(extra)) writeFileSync(RESULTS_DIR + file, content);
  return path;
}
