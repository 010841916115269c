import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './cli.js';

/**
 * The first ts code block of the README section under `heading`, its `from 'dirtytrack'` pointed at
 * src/, written to a fresh temporary .mts file: the example as a user would run it. Returns its path.
 */
export function readmeExampleFile(heading: string): string {
  const readme = readFileSync(ROOT + 'README.md', 'utf8');
  const section = readme.slice(readme.indexOf(`\n${heading}\n`));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error(`README has no ts example under "${heading}"`);
  const file = join(mkdtempSync(join(tmpdir(), 'dirtytrack-readme-')), 'example.mts');
  writeFileSync(file, code.replace("from 'dirtytrack'", `from '${ROOT}src/index.ts'`));
  return file;
}
