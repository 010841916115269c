import { describe, expect, it } from 'vitest';
import { codeForErrno, DirtyTrackError, exitCodeFor, fromSystemError, noSuchProcess, type DirtyTrackCode } from '../../src/errors.js';
import { errorText } from '../../src/cli/error-text.js';

describe('exitCodeFor', () => {
  const table: Array<[DirtyTrackCode, number]> = [
    ['EUSAGE', 2], ['EINVAL', 1], ['ESRCH', 3], ['EACCES', 4], ['EPERM', 4], ['ENOSOFTDIRTY', 5], ['ENOTSUP', 5],
    ['EBUSY', 5], ['ELOCKED', 6], ['ETIMEDOUT', 1], ['EBADF', 1], ['EIO', 1], ['ESYSTEM', 1],
  ];
  for (const [code, exit] of table) {
    it(`${code} → ${exit}`, () => expect(exitCodeFor(new DirtyTrackError(code, 'x'))).toBe(exit));
  }
  it('anything but a DirtyTrackError is unexpected: 1', () => {
    expect(exitCodeFor(new Error('boom'))).toBe(1);
    expect(exitCodeFor('a string')).toBe(1);
    expect(exitCodeFor(Object.assign(new Error('x'), { code: 'ESRCH' }))).toBe(1);
  });
});

describe('codeForErrno', () => {
  const table: Array<[string, DirtyTrackCode]> = [
    ['ESRCH', 'ESRCH'], ['EACCES', 'EACCES'], ['EPERM', 'EPERM'], ['ETIMEDOUT', 'ETIMEDOUT'], ['EIO', 'EIO'],
    ['ENOSYS', 'ENOTSUP'], ['ENOTTY', 'ENOTSUP'], ['EOPNOTSUPP', 'ENOTSUP'],
    ['EBUSY', 'ESYSTEM'], ['EINVAL', 'ESYSTEM'], ['ENOMEM', 'ESYSTEM'], ['EBADF', 'ESYSTEM'], ['E999', 'ESYSTEM'],
  ];
  for (const [name, code] of table) it(`${name} → ${code}`, () => expect(codeForErrno(name)).toBe(code));
});

describe('fromSystemError', () => {
  const sys = (code: string) => Object.assign(new Error(`${code}: x`), { code, syscall: 'open' });
  it('ENOENT and ESRCH on /proc/PID: the process is gone', () => {
    for (const c of ['ENOENT', 'ESRCH']) {
      const e = fromSystemError(sys(c), 'cannot open /proc/7/maps', 7);
      expect(e).toMatchObject({ code: 'ESRCH', pid: 7, message: 'no such process: 7 (cannot open /proc/7/maps)' });
      expect(e.cause).toBeInstanceOf(Error);
    }
  });
  it('permission errors name the path once', () => {
    expect(fromSystemError(sys('EACCES'), 'cannot open /proc/7/pagemap', 7, '/proc/7/pagemap').message).toBe(
      'permission denied: cannot open /proc/7/pagemap; run as root or with CAP_SYS_ADMIN/CAP_SYS_PTRACE');
    expect(fromSystemError(sys('EPERM'), 'cannot write', 7, '/proc/7/clear_refs').message).toMatch(/cannot write \(\/proc\/7\/clear_refs\)/);
  });
  it('other errnos become ESYSTEM, keeping syscall', () => {
    expect(fromSystemError(sys('ENOMEM'), 'cannot read', 7)).toMatchObject({ code: 'ESYSTEM', syscall: 'open' });
  });
  it('a DirtyTrackError passes through', () => {
    const e = noSuchProcess(3, 'gone');
    expect(fromSystemError(e, 'x')).toBe(e);
  });
});

describe('errorText', () => {
  it('a documented failure is one line; a usage error adds the hint', () => {
    expect(errorText(noSuchProcess(9, 'cannot read /proc/9/maps'))).toBe('dirtytrack: no such process: 9 (cannot read /proc/9/maps)\n');
    expect(errorText(new DirtyTrackError('EUSAGE', 'missing pid'))).toBe("dirtytrack: missing pid\nrun 'dirtytrack --help' for usage\n");
  });
  it('every exit-1 error prints its stack, DirtyTrackError or not', () => {
    for (const err of [new Error('boom'), new DirtyTrackError('EIO', 'short read'), new DirtyTrackError('ESYSTEM', 'ENOMEM')]) {
      expect(errorText(err)).toMatch(/^dirtytrack: unexpected error\n.*\n\s+at /);
    }
  });
});
