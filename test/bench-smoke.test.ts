// The benchmark (npm run bench) at smoke-test sizes: it must run to the end and write every section.
// No timing is asserted: times on a shared machine say nothing about correctness.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'dirtytrack-bench-smoke-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
const SECTION_IDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

describe('npm run bench -- --quick', () => {
  it('completes and writes every section, the raw numbers and the plots to the chosen directory', async () => {
    const r = await execa(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--out', out], { cwd: ROOT, reject: false, timeout: 300_000 });
    expect({ code: r.exitCode, stderr: r.exitCode === 0 ? '' : String(r.stderr).slice(-3000) }).toEqual({ code: 0, stderr: '' });

    const md = readFileSync(join(out, 'bench.md'), 'utf8');
    for (const n of SECTION_IDS) expect(md).toMatch(new RegExp(`^## ${n}\\. `, 'm'));
    expect(md).toContain('## Machine');
    expect(md).toContain('## Goals');
    expect(md).toContain('quick');

    const json = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8'));
    expect(json.sections.map((s: { id: number }) => s.id)).toEqual(SECTION_IDS);
    for (const s of json.sections) expect(s.markdown.length).toBeGreaterThan(0);
    expect(json.machine.kernel).toBeTruthy();

    for (const svg of ['bench-scaling.svg', 'bench-regions.svg', 'bench-span.svg']) {
      expect(existsSync(join(out, svg))).toBe(true);
      expect(readFileSync(join(out, svg), 'utf8')).toContain('<svg');
    }
  });

  it('refuses unknown sections with exit code 2', async () => {
    const r = await execa(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--only', '99', '--out', out], { cwd: ROOT, reject: false });
    expect(r.exitCode).toBe(2);
  });
});
