import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dirtytrack } from '../helpers/cli.js';

// A real QEMU, paused before its first instruction (-S): its 128 MiB of guest RAM are all untouched,
// so all zero, and nothing writes them.
let qemu: ChildProcess;
beforeAll(async () => {
  qemu = spawn('qemu-system-x86_64', ['-S', '-machine', 'q35', '-accel', 'tcg', '-m', '128M', '-nodefaults', '-display', 'none'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1500));
  expect(qemu.exitCode).toBeNull();
});
afterAll(() => {
  qemu?.kill('SIGKILL');
});

describe('watch --vm --bandwidth on a QEMU process', () => {
  it('estimates round 0 as QEMU sends it: 32,768 zero pages at 9 bytes each, not 128 MiB', async () => {
    const r = await dirtytrack('watch', String(qemu.pid), '--vm', '--bandwidth', '100MiB/s', '--interval', '100ms', '--max-rounds', '3', '--json');
    expect(r.stderr).toBe('');
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(summary.precopy).toMatchObject({ converges: true, rounds: 1, finalBytes: 0, transferredBytes: 32768 * 9 });
  });

  it('refuses --vm on a process that is not QEMU, with the reason', async () => {
    const r = await dirtytrack('scan', String(process.pid), '--vm');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not QEMU/);
  });
});
