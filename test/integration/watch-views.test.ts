// watch --regions and --heatmap on a real target: the top region must be the one the target says it
// writes, and the heatmap must be a valid SVG with the target's region in it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Target } from '../../experiments/lib/target.js';
import { dirtytrack } from '../helpers/cli.js';

describe('watch --regions / --heatmap', () => {
  let target: Target;
  let dir: string;
  beforeAll(async () => {
    // 20 000 writes/s over 2048 pages: each 200 ms round writes most of the region, far more than anything else.
    target = await Target.spawn('rate-writer', ['--pages', '2048', '--rate', '20000', '--seed', '5']);
    await target.command('start');
    dir = mkdtempSync(tmpdir() + '/watch-views-');
  });
  afterAll(async () => {
    await target.command('stop');
    await target.exit();
    rmSync(dir, { recursive: true });
  });

  it('names the target\'s region first in every round and in the working set; the heatmap renders', async () => {
    const svg = `${dir}/w.svg`;
    const r = await dirtytrack('watch', String(target.pid), '--max-rounds', '4', '--stable', '10', '--regions', '2', '--heatmap', svg);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const region = target.region();
    const rounds = r.stdout.split('\n').filter((l) => l.startsWith('round '));
    expect(rounds).toHaveLength(4);
    for (const line of rounds) {
      const m = /█ +(\S+) (\d+)/.exec(line);
      expect(m?.[1]).toBe(`[anon]@0x${region.start.toString(16)}`);
      expect(Number(m?.[2])).toBeGreaterThan(1000);
      expect(Number(m?.[2])).toBeLessThanOrEqual(region.pages);
    }
    expect(r.stdout).toMatch(new RegExp(`^working set by region {2}\\[anon\\]@0x${region.start.toString(16)} \\d+ pages`, 'm'));
    expect(r.stdout).toMatch(/^hot set by region {6}/m);
    const text = readFileSync(svg, 'utf8');
    expect(text).toContain(`dirtytrack watch ${target.pid}`);
    expect(text).toMatch(/\[anon\] · \d/);
    const png = spawnSync('rsvg-convert', ['--format', 'png', svg], { maxBuffer: 1 << 26 });
    if (png.error) throw new Error(`rsvg-convert failed to run (${png.error.message}): install librsvg2-bin`);
    expect(png.status).toBe(0);
  });

  it('for a group: one block of bands per process, regions named with their pid', async () => {
    const other = await Target.spawn('rate-writer', ['--pages', '512', '--rate', '2000', '--seed', '6']);
    try {
      await other.command('start');
      const svg = `${dir}/g.svg`;
      const r = await dirtytrack('watch', String(target.pid), String(other.pid), '--max-rounds', '3', '--stable', '10', '--regions', '1', '--heatmap', svg);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const rounds = r.stdout.split('\n').filter((l) => l.startsWith('round '));
      expect(rounds).toHaveLength(3);
      for (const line of rounds) expect(line).toContain(`  ${target.pid}:[anon]@0x${target.region().start.toString(16)} `);
      const text = readFileSync(svg, 'utf8');
      for (const pid of [target.pid, other.pid]) expect(text).toContain(`font-weight="bold">pid ${pid}</text>`);
      const png = spawnSync('rsvg-convert', ['--format', 'png', svg], { maxBuffer: 1 << 26 });
      if (png.error) throw new Error(`rsvg-convert failed to run (${png.error.message}): install librsvg2-bin`);
      expect(png.status).toBe(0);
      await other.command('stop');
    } finally {
      await other.exit();
    }
  });

  it('a heatmap that cannot be written (full disk) still summarises the watch, then exits 7 with one line', async () => {
    const r = await dirtytrack('watch', String(target.pid), '--max-rounds', '2', '--stable', '10', '--heatmap', '/dev/full');
    expect(r.code).toBe(7);
    expect(r.stdout).toMatch(/^stopped: max-rounds after 2 rounds/m);
    expect(r.stderr).toBe('dirtytrack: cannot write heatmap /dev/full: ENOSPC'); // one line (execa drops the newline)
  });

  it('rejects a bad --regions or an unwritable --heatmap with one line and exit 2, before watching', async () => {
    for (const args of [['--regions', '0'], ['--regions', 'x'], ['--heatmap', '/nonexistent-dir/h.svg'], ['--heatmap', dir]]) {
      const r = await dirtytrack('watch', String(target.pid), ...args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.split('\n')[0]).toMatch(/^dirtytrack: .*(--regions|--heatmap)/);
    }
    expect(existsSync('/nonexistent-dir')).toBe(false);
  });
});
