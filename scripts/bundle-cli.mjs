#!/usr/bin/env node
// Bundle the CLI that tsc compiled (dist/cli/bin.js) into one CommonJS file, dist/cli/dirtytrack.cjs:
// the installed `dirtytrack` command (package.json "bin"). Node 20 loads many small ES modules slowly,
// and a command's start-up is mostly that (npm run bench, section 10). The library (dist/index.js)
// stays tsc's ES modules.
//
// The bundle sits at the same depth as the modules it replaces, so paths resolved from import.meta.url
// (the addon at ../../build/Release/, the scan worker at ../serve/worker.js) stay right. CommonJS has
// no import.meta: it becomes an object whose url is the bundle's (scripts/cjs-import-meta.mjs), injected
// rather than set by a banner, which would come before esbuild's "use strict" and void it.
import { build } from 'esbuild';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Where package.json's bin says the command is, so the two never disagree.
const outfile = join(root, JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).bin.dirtytrack);

const { outputFiles, warnings } = await build({
  entryPoints: [join(root, 'dist/cli/bin.js')],
  outfile,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // Dependencies (prom-client, for serve) stay in node_modules, where npm installs them.
  packages: 'external',
  // Only .url is read once bundled; import.meta.resolve serves the run-from-source (tsx) branch of
  // serve/exporter.ts, which a .cjs file never takes.
  define: { 'import.meta': 'importMeta' },
  inject: [join(root, 'scripts/cjs-import-meta.mjs')],
  logLevel: 'warning',
  write: false,
});
// A warning here is a module the bundle may run differently from dist/: fail rather than write it.
if (warnings.length) process.exit(1);
writeFileSync(outfile, outputFiles[0].contents);
chmodSync(outfile, 0o755); // npm links bin to it
