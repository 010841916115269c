// scan against lockstep targets that report the exact pages they wrote; once per working backend.
import { afterEach, describe, expect, it } from 'vitest';
import { Target } from '../../experiments/lib/target.js';
import { accuracy, detectedIn } from '../../experiments/lib/metrics.js';
import { openBackend } from '../../src/backends/select.js';
import { SoftDirtyBackend } from '../../src/backends/soft-dirty.js';
import { PagemapScanBackend } from '../../src/backends/pagemap-scan.js';
import { workingBackends } from './backends.js';

const targets: Target[] = [];
afterEach(async () => { for (const t of targets.splice(0)) await t.exit(); });
async function spawn(name: string, args: string[]) {
  const t = await Target.spawn(name, args);
  targets.push(t);
  return t;
}

const C_WORKLOADS: Array<[string, string[]]> = [
  ['stride-writer', ['--pages', '2048', '--stride', '7']],
  ['stride-writer', ['--pages', '512', '--stride', '1', '--no-populate']],
  ['random-writer', ['--pages', '4096', '--count', '300', '--seed', '42']],
  ['readonly', ['--pages', '1024']],
];

for (const backendName of workingBackends()) {
  describe(`scan with ${backendName}`, () => {
    for (const [name, args] of C_WORKLOADS) {
      it(`${name} ${args.join(' ')}: recall 1.0 and precision 1.0 within the region, every phase`, async () => {
        const t = await spawn(name, args);
        const region = t.region();
        const backend = openBackend(t.pid, backendName);
        try {
          backend.clear();
          const idle = backend.scan({ reset: true });
          expect(detectedIn(idle, region.startPage, region.startPage + region.pages).size).toBe(0);
          for (let phase = 1; phase <= 4; phase++) {
            const truth = await t.write();
            const scan = backend.scan({ reset: true });
            expect(scan.backend).toBe(backendName);
            const acc = accuracy(truth, detectedIn(scan, region.startPage, region.startPage + region.pages));
            expect({ phase, ...acc }).toMatchObject({ phase, recall: 1, precision: 1 });
            if (name === 'readonly') expect(acc.detected).toBe(0);
            else expect(acc.written).toBeGreaterThan(0);
          }
        } finally {
          backend.close();
        }
      });
    }

    it('node-buffer: recall 1.0 over the buffer pages (V8 writes elsewhere are expected)', async () => {
      const t = await spawn('node-buffer.mjs', ['--pages', '2048', '--stride', '5']);
      const region = t.region();
      const backend = openBackend(t.pid, backendName);
      try {
        backend.clear();
        for (let phase = 1; phase <= 3; phase++) {
          const truth = await t.write();
          const acc = accuracy(truth, detectedIn(backend.scan({ reset: true }), region.startPage, region.startPage + region.pages));
          expect(acc.written).toBeGreaterThan(0);
          expect({ phase, recall: acc.recall }).toEqual({ phase, recall: 1 });
        }
      } finally {
        backend.close();
      }
    });
  });
}

const sdBackends = workingBackends().filter((b) => b === 'soft-dirty' || b === 'pagemap-scan');
if (sdBackends.length === 2) {
  describe('pagemap-scan agrees page for page with the plain soft-dirty reader', () => {
    for (const [name, args] of [...C_WORKLOADS, ['node-buffer.mjs', ['--pages', '1024', '--stride', '3']] as [string, string[]]]) {
      it(`${name} ${args.join(' ')}`, async () => {
        const t = await spawn(name, args);
        // Two readers of one soft-dirty state, only `plain` resetting it: the classes themselves, without
        // openBackend's one-tracker-per-process lock.
        const plain = new SoftDirtyBackend(t.pid);
        const fast = new PagemapScanBackend(t.pid);
        try {
          plain.clear();
          for (let phase = 1; phase <= 3; phase++) {
            await t.write();
            // Node targets run V8 meanwhile: freeze it so both readers see one state.
            process.kill(t.pid, 'SIGSTOP');
            await new Promise((r) => setTimeout(r, 50));
            const a = plain.scan();
            const b = fast.scan();
            process.kill(t.pid, 'SIGCONT');
            const flat = (s: typeof a) => s.regions.map((r) => [r.region.start.toString(16), r.dirty]);
            expect(flat(b)).toEqual(flat(a));
            expect(b.dirtyPages).toBe(a.dirtyPages);
            plain.clear();
          }
        } finally {
          plain.close();
          fast.close();
        }
      });
    }
  });
}
