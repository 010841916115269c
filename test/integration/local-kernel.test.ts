// On this machine's own kernel: what doctor says must match the kernel's configuration, and a kernel
// that cannot track soft-dirty must make scan and clear fail with the capability code — never "0 dirty".
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Target } from '../../experiments/lib/target.js';
import { kernelRelease } from '../../src/kernel/info.js';
import { execa } from 'execa';
import { dirtytrack, ROOT } from '../helpers/cli.js';

/** CONFIG_MEM_SOFT_DIRTY from the kernel's own config: the independent truth for doctor's probe. */
function configSoftDirty(): boolean | undefined {
  for (const read of [() => gunzipSync(readFileSync('/proc/config.gz')).toString(), () => readFileSync(`/boot/config-${kernelRelease()}`, 'utf8')]) {
    try {
      return /^CONFIG_MEM_SOFT_DIRTY=y$/m.test(read());
    } catch {
      // try the next source
    }
  }
  return undefined;
}

const config = configSoftDirty();

/** Whether bit 55 of the target's pagemap follows its writes: cleared through clear_refs, then every written page read back. */
async function softDirtySeen(target: Target): Promise<boolean> {
  writeFileSync(`/proc/${target.pid}/clear_refs`, '4');
  const written = await target.write();
  const fd = openSync(`/proc/${target.pid}/pagemap`, 'r');
  const entry = Buffer.alloc(8);
  let set = 0;
  try {
    for (const page of written) {
      readSync(fd, entry, 0, 8, page * 8);
      if ((entry.readBigUInt64LE() >> 55n) & 1n) set++;
    }
  } finally {
    closeSync(fd);
  }
  expect(written.size).toBeGreaterThan(0);
  return set === written.size;
}

describe(`this machine's kernel (${kernelRelease()})`, () => {
  let target: Target;
  beforeAll(async () => { target = await Target.spawn('stride-writer', ['--pages', '64', '--stride', '2']); });
  afterAll(async () => { await target.exit(); });

  it('has a readable kernel config (else nothing here could be checked)', () => {
    expect(config).toBeTypeOf('boolean');
  });

  it('the kernel config agrees with what bit 55 does on a real target', async () => {
    expect(await softDirtySeen(target)).toBe(config);
  });

  it('doctor --json: the live soft-dirty probe agrees with what bit 55 does on a real target', async () => {
    const seen = await softDirtySeen(target);
    const r = await dirtytrack('doctor', String(target.pid), '--json');
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d.softDirty.works).toBe(seen);
    expect(d.process).toMatchObject({ pid: target.pid, mapsReadable: true, pagemapReadable: true, pfnVisible: true });
    expect(d.backends.find((b: { name: string }) => b.name === 'soft-dirty').works).toBe(config);
  });

  it('doctor (human) names the soft-dirty verdict and the backend auto picks', async () => {
    const r = await dirtytrack('doctor');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(config ? /soft-dirty\s+works/ : /soft-dirty\s+DOES NOT WORK/);
    expect(r.stdout).toMatch(/auto backend\s+\S+/);
  });

  for (const command of ['scan', 'clear']) {
    it(`${command} --backend soft-dirty ${config ? 'works' : 'fails with exit 5 naming CONFIG_MEM_SOFT_DIRTY, never reporting 0 dirty pages'}`, async () => {
      const r = await dirtytrack(command, String(target.pid), '--backend', 'soft-dirty', ...(command === 'scan' ? ['--json'] : []));
      if (config) {
        expect(r.code).toBe(0);
        return;
      }
      expect(r.code).toBe(5);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/CONFIG_MEM_SOFT_DIRTY/);
      expect(r.stderr).toMatch(/--backend uffd-wp|kernel lab/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    });
  }
});

describe('process errors', () => {
  it('a process that has exited: exit 3, one line', async () => {
    const child = spawn('sleep', ['10']);
    const pid = child.pid!;
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const r = await dirtytrack('scan', String(pid));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`no such process: ${pid}`));
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('an unreadable pagemap (another user\'s process, unprivileged tracker): exit 4, one line', async () => {
    // runuser drops to nobody; PID 1 belongs to root, so its pagemap is not readable.
    const r = await execa('runuser', ['-u', 'nobody', '--', process.execPath, '--import', 'tsx', 'src/cli/bin.ts', 'scan', '1', '--backend', 'uffd-wp'], { reject: false, cwd: ROOT });
    expect(r.exitCode).toBe(4);
    expect(String(r.stderr)).toMatch(/permission denied/);
    expect(String(r.stderr)).not.toMatch(/\n\s+at /);
  });
});
