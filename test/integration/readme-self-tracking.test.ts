// The README's "Tracking your own memory" example, run as written (its import pointed at src/).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

function example(): string {
  const readme = readFileSync(ROOT + 'README.md', 'utf8');
  const section = readme.slice(readme.indexOf('\n### Tracking your own memory\n'));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error('README has no ts example under "### Tracking your own memory"');
  return code.replace("from 'dirtytrack'", `from '${ROOT}src/index.ts'`);
}

describe('README self-tracking example', () => {
  it('reports exactly the pages the example wrote: one per 100,000th element of 16 Mi doubles', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'dirtytrack-readme-')), 'self.mts');
    writeFileSync(file, example());
    const r = await execa(process.execPath, ['--import', 'tsx', file], { reject: false, cwd: ROOT });
    expect(r.exitCode, r.stderr).toBe(0);
    const written = Math.ceil((16 << 20) / 100_000); // each write 800,000 bytes after the last: a page each
    expect(r.stdout.trim()).toMatch(new RegExp(`^${written} pages written; first run: bytes 0–\\d+$`));
  });
});
