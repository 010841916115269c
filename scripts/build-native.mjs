#!/usr/bin/env node
// Build the native addon (build/Release/dirtytrack.node) with the node-gyp that npm bundles.
// As npm's install step it never fails the install: without the addon only the pagemap-scan and
// uffd-wp backends are missing (soft-dirty needs no native code). `--strict` (npm run build:native)
// exits non-zero on failure instead.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');

function finish(ok, message) {
  if (ok) {
    console.error(`dirtytrack: ${message}`);
    process.exit(0);
  }
  console.error(`dirtytrack: ${message}`);
  if (strict) process.exit(1);
  console.error('dirtytrack: continuing without the native addon (backends pagemap-scan and uffd-wp unavailable; run `npm run build:native` to retry)');
  process.exit(0);
}

if (process.platform !== 'linux') finish(false, `native addon skipped: ${process.platform} is not Linux`);

/** node-gyp: the one npm runs scripts with, a local install, or the copy inside npm next to node. */
function findNodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  try {
    candidates.push(createRequire(join(root, 'package.json')).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed locally
  }
  const prefix = dirname(dirname(process.execPath));
  candidates.push(join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'));
  candidates.push('/usr/share/nodejs/node-gyp/bin/node-gyp.js');
  return candidates.find((c) => c && existsSync(c));
}

const gyp = findNodeGyp();
if (!gyp) finish(false, 'node-gyp not found (it comes with npm); cannot build the native addon');

const args = [gyp, 'rebuild'];
// Use the headers installed with node when present, so the build needs no download.
if (!process.env.npm_config_nodedir) {
  const prefix = dirname(dirname(process.execPath));
  if (existsSync(join(prefix, 'include/node/node_api.h'))) args.push(`--nodedir=${prefix}`);
}
const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
const built = join(root, 'build/Release/dirtytrack.node');
if (r.status === 0 && existsSync(built)) finish(true, `native addon built: ${built}`);
finish(false, `native addon build failed (node-gyp exit ${r.status ?? r.signal}); needs gcc, make and python3`);
