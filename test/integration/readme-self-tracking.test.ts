// The README's "Tracking your own memory" example, run as written (its import pointed at src/).
import { execa } from 'execa';
import { readmeExampleFile } from '../helpers/readme.js';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

describe('README self-tracking example', () => {
  it('reports exactly the pages the example wrote: one per 100,000th element of 16 Mi doubles', async () => {
    const file = readmeExampleFile('### Tracking your own memory');
    const r = await execa(process.execPath, ['--import', 'tsx', file], { reject: false, cwd: ROOT });
    expect(r.exitCode, r.stderr).toBe(0);
    const written = Math.ceil((16 << 20) / 100_000); // each write 800,000 bytes after the last: a page each
    expect(r.stdout.trim()).toMatch(new RegExp(`^${written} pages written; first run: bytes 0–\\d+$`));
  });
});
