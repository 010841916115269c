// Issue 9 §1: a seccomp'd target is never harmed. Before injecting, dirtytrack reads the thread's
// filters and evaluates them for the exact call; it injects only where they answer ALLOW (or ERRNO).
import { readdirSync, readlinkSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { openBackend } from '../../src/backends/select.js';
import { native } from '../../src/native/binding.js';
import { evaluateFilters, AUDIT_ARCH_X86_64 } from '../../src/proc/seccomp-bpf.js';
import { seccompOf, tracerOf } from '../../src/proc/process.js';
import { SYS } from '../../src/backends/uffd-wp/inject.js';
import { requireInjectable } from '../../src/proc/seccomp.js';
import { dirtytrack } from '../helpers/cli.js';
import { exitAll, expectTrackedExactly, expectUnharmed, pagesIn, sleep, spawnHostile, uffdInodes } from './helpers.js';

afterEach(exitAll);

const UFFD_FLAGS = 0o2000000n | 0o4000n; // O_CLOEXEC | O_NONBLOCK, as dirtytrack injects it

/** What the kernel's own copy of the target's filters says about the injected userfaultfd(). */
function kernelFiltersSay(pid: number): string {
  const progs = native()!.seccompFilters(pid, 5000);
  return evaluateFilters(progs, { nr: SYS.userfaultfd, arch: AUDIT_ARCH_X86_64, ip: 0n, args: [UFFD_FLAGS, 0n, 0n, 0n, 0n, 0n] }).action;
}

describe('seccomp: refused before anything is injected', () => {
  for (const action of ['kill_process', 'kill_thread', 'trap', 'trace', 'user_notif', 'log']) {
    it(`SECCOMP_RET_${action.toUpperCase()} on userfaultfd(): exit 5 naming seccomp and the action; the target is untouched`, async () => {
      const t = await spawnHostile('seccomp-target', ['--action', action]);
      expect(kernelFiltersSay(t.pid)).toBe(action.toUpperCase());
      const r = await dirtytrack('scan', String(t.pid), '--backend', 'uffd-wp');
      expect(r.code).toBe(5);
      expect(r.stderr).toContain(`seccomp filter that answers userfaultfd() with SECCOMP_RET_${action.toUpperCase()}`);
      expect(r.stderr).toMatch(/soft-dirty/); // what to do instead
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      await expectUnharmed(t);
      expect((await t.command('status')).sigsys).toBe(0);
      expect(uffdInodes(t.pid)).toEqual([]);
      expect(tracerOf(t.pid)).toBe(0);
    });
  }

  it('seccomp strict mode: refused, exit 5, the target untouched', async () => {
    const t = await spawnHostile('seccomp-target', ['--action', 'strict']);
    for (let i = 0; i < 200 && seccompOf(t.pid).mode !== 1; i++) await sleep(5);
    expect(seccompOf(t.pid).mode).toBe(1);
    const r = await dirtytrack('scan', String(t.pid), '--backend', 'uffd-wp');
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('seccomp strict mode');
    await expectUnharmed(t);
    expect(uffdInodes(t.pid)).toEqual([]);
  });

  it('SECCOMP_RET_ERRNO: the call fails inside the target (exit 4, as a permission error) and it carries on', async () => {
    const t = await spawnHostile('seccomp-target', ['--action', 'errno']);
    expect(kernelFiltersSay(t.pid)).toBe('ERRNO');
    const r = await dirtytrack('scan', String(t.pid), '--backend', 'uffd-wp');
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/userfaultfd\(\) failed inside \d+: EPERM/);
    await expectUnharmed(t);
    expect(uffdInodes(t.pid)).toEqual([]);
  });

  it('a filter that would not let the descriptor be closed again (close → ERRNO): refused before it is created', async () => {
    const t = await spawnHostile('seccomp-target', ['--action', 'errno', '--call', 'close']);
    const r = await dirtytrack('clear', String(t.pid), '--backend', 'uffd-wp');
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('answers close() with SECCOMP_RET_ERRNO');
    await expectUnharmed(t);
    expect(uffdInodes(t.pid)).toEqual([]);
  });

  it('filters that cannot be read (no CAP_SYS_ADMIN): refused, exit 5', async () => {
    const t = await spawnHostile('seccomp-target', ['--action', 'allow']);
    const { execa } = await import('execa');
    const { ROOT } = await import('../helpers/cli.js');
    const r = await execa('setpriv', ['--inh-caps=-sys_admin', '--bounding-set=-sys_admin', process.execPath, '--import', 'tsx', ROOT + 'src/cli/bin.ts', 'scan', String(t.pid), '--backend', 'uffd-wp'], { reject: false, cwd: ROOT });
    expect(r.exitCode).toBe(5);
    expect(String(r.stderr)).toMatch(/seccomp filters that cannot be read \(reading them needs CAP_SYS_ADMIN\)/);
    await expectUnharmed(t);
    expect(uffdInodes(t.pid)).toEqual([]);
  });
});

describe('seccomp: filters that cannot be evaluated', () => {
  it('a program the interpreter cannot run is never trusted: refused (ENOTSUP), nothing injected', async () => {
    const t = await spawnHostile('seccomp-target', ['--action', 'allow']);
    const noReturn = () => [new Uint8Array(8)]; // one LD IMM, then the end: no verdict
    const call = { name: 'userfaultfd', nr: SYS.userfaultfd, args: [UFFD_FLAGS] };
    expect(() => requireInjectable(t.pid, t.pid, call, 0n, true, noReturn)).toThrow(expect.objectContaining({ code: 'ENOTSUP', message: expect.stringMatching(/cannot evaluate/) }));
    expect(uffdInodes(t.pid)).toEqual([]);
    await expectUnharmed(t);
  });
});

describe('seccomp: a filter that allows the calls', () => {
  it('is tracked exactly, and close() leaves nothing behind', async () => {
    const t = await spawnHostile('seccomp-target', ['--action', 'allow']);
    expect(kernelFiltersSay(t.pid)).toBe('ALLOW');
    await expectTrackedExactly(t);
    expect((await t.command('status')).sigsys).toBe(0);
  });
});

describe('doctor PID: the seccomp state and what it means for each backend', () => {
  it('per action, in JSON and text; the target is unharmed by the look', async () => {
    for (const [action, uffdWp] of [['kill_process', /^refused: the filters answer userfaultfd\(\) with SECCOMP_RET_KILL_PROCESS/], ['errno', /^fails: .*errno 1\)/], ['allow', /^works/]] as const) {
      const t = await spawnHostile('seccomp-target', ['--action', action]);
      const r = await dirtytrack('doctor', String(t.pid), '--json');
      expect(r.code).toBe(0);
      const s = JSON.parse(r.stdout).process.seccomp;
      expect(s).toMatchObject({ mode: 2, filters: 1, userfaultfd: action.toUpperCase() });
      expect(s.meaning.uffdWp).toMatch(uffdWp);
      expect(s.meaning.softDirty).toMatch(/not affected/);
      const text = await dirtytrack('doctor', String(t.pid));
      expect(text.stdout).toMatch(/seccomp: soft-dirty and pagemap-scan not affected.*; uffd-wp (refused|fails|works)/);
      await expectUnharmed(t);
      expect(uffdInodes(t.pid)).toEqual([]);
    }
  });
});

describe('cleanup never closes a descriptor the target owns', () => {
  it('the target closed the tracker\'s descriptor and opened a file into its number: close() leaves that file open', async () => {
    const t = await spawnHostile('seccomp-target', ['--action', 'allow']);
    const b = openBackend(t.pid, 'uffd-wp');
    const [fd] = readdirSync(`/proc/${t.pid}/fd`).map(Number).filter((n) => readlinkSafe(`/proc/${t.pid}/fd/${n}`) === 'anon_inode:[userfaultfd]');
    expect((await t.command(`close-fd ${fd}`)).fd).toBe(fd);
    expect((await t.command('open-null')).fd).toBe(fd); // the lowest free number: the tracker's old one
    b.close();
    expect(readlinkSafe(`/proc/${t.pid}/fd/${fd}`)).toBe('/dev/null');
    expect(uffdInodes(t.pid)).toEqual([]);
    await expectUnharmed(t);
  });
});

function readlinkSafe(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}
