// The classic-BPF interpreter that decides whether a call may be injected (src/proc/seccomp-bpf.ts),
// on filters assembled here the way libseccomp and hand-written sandboxes build them.
import { describe, expect, it } from 'vitest';
import { AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, evaluateFilters, runFilter, SECCOMP_RET, seccompAction, type SeccompData } from '../../src/proc/seccomp-bpf.js';
import { requireInjectable } from '../../src/proc/seccomp.js';

type Insn = [code: number, jt: number, jf: number, k: number];
const stmt = (code: number, k: number): Insn => [code, 0, 0, k];
const jump = (code: number, k: number, jt: number, jf: number): Insn => [code, jt, jf, k];
function prog(...insns: Insn[]): Uint8Array {
  const b = Buffer.alloc(insns.length * 8);
  insns.forEach(([code, jt, jf, k], i) => {
    b.writeUInt16LE(code, i * 8);
    b[i * 8 + 2] = jt;
    b[i * 8 + 3] = jf;
    b.writeUInt32LE(k >>> 0, i * 8 + 4);
  });
  return b;
}
// opcodes (include/uapi/linux/bpf_common.h)
const LD_ABS = 0x20, LD_IMM = 0x00, LD_LEN = 0x80, LD_MEM = 0x60, LDX_IMM = 0x01, LDX_MEM = 0x61, ST = 0x02, STX = 0x03;
const JEQ = 0x15, JGT = 0x25, JSET = 0x45, JA = 0x05, JEQ_X = 0x1d;
const RET = 0x06, RET_A = 0x16, TAX = 0x07, TXA = 0x87;
const ALU_AND = 0x54, ALU_ADD = 0x04, ALU_DIV_X = 0x3c, ALU_RSH = 0x74, ALU_LSH_X = 0x6c, ALU_NEG = 0x84;

const call = (nr: number, args: bigint[] = [], arch = AUDIT_ARCH_X86_64): SeccompData => ({ nr, arch, ip: 0x7fff_1234_5678n, args: [...args, 0n, 0n, 0n, 0n, 0n, 0n].slice(0, 6) });
const action = (p: Uint8Array, d: SeccompData) => seccompAction(runFilter(p, d));

/** The common sandbox shape: wrong arch → kill; one call → `ret`; the rest allowed. */
const sandbox = (nr: number, ret: number) => prog(
  stmt(LD_ABS, 4), jump(JEQ, AUDIT_ARCH_X86_64, 1, 0), stmt(RET, SECCOMP_RET.KILL_PROCESS),
  stmt(LD_ABS, 0), jump(JEQ, nr, 0, 1), stmt(RET, ret), stmt(RET, SECCOMP_RET.ALLOW),
);

describe('seccomp BPF interpreter', () => {
  it('arch check and one call answered with each action; other calls allowed', () => {
    for (const [name, value] of Object.entries(SECCOMP_RET)) {
      const p = sandbox(323, value | (name === 'ERRNO' ? 1 : 0));
      expect(action(p, call(323))).toEqual({ action: name, data: name === 'ERRNO' ? 1 : 0 });
      expect(action(p, call(3, [5n]))).toEqual({ action: 'ALLOW', data: 0 });
      expect(action(p, call(323, [], AUDIT_ARCH_I386)).action).toBe('KILL_PROCESS');
    }
  });

  it('argument tests see 64-bit arguments as two words: flags checked with JSET, a high word with JGT', () => {
    // userfaultfd allowed only with UFFD_USER_MODE_ONLY (1) in args[0]; close allowed for fd < 2^32 only
    const p = prog(
      stmt(LD_ABS, 0), jump(JEQ, 323, 0, 4),
      stmt(LD_ABS, 16), jump(JSET, 1, 1, 0), stmt(RET, SECCOMP_RET.ERRNO | 1),
      stmt(RET, SECCOMP_RET.ALLOW), // 5
      stmt(LD_ABS, 0), jump(JEQ, 3, 0, 3), stmt(LD_ABS, 20), jump(JGT, 0, 0, 1), stmt(RET, SECCOMP_RET.KILL_THREAD),
      stmt(RET, SECCOMP_RET.ALLOW),
    );
    expect(action(p, call(323, [0o2004000n])).action).toBe('ERRNO');
    expect(action(p, call(323, [0o2004001n])).action).toBe('ALLOW');
    expect(action(p, call(3, [7n])).action).toBe('ALLOW');
    expect(action(p, call(3, [1n << 33n])).action).toBe('KILL_THREAD');
  });

  it('scratch memory, X register, ALU and the instruction pointer', () => {
    // A = ip low word >> 12; M[3] = A; X = 0x45678 (0x7fff_1234_5678 >> 12 low word is 0x12345)
    const p = prog(
      stmt(LD_ABS, 8), stmt(ALU_RSH, 12), stmt(ST, 3), stmt(LDX_IMM, 0x12345), stmt(LD_MEM, 3),
      jump(JEQ_X, 0, 0, 4), stmt(LD_IMM, 2), stmt(TAX, 0), stmt(LD_IMM, 1), stmt(ALU_LSH_X, 0), // A = 1 << 2
      stmt(ALU_ADD, SECCOMP_RET.ERRNO), stmt(RET_A, 0),
    );
    expect(action(p, call(0))).toEqual({ action: 'ERRNO', data: 4 });
    expect(action(p, { ...call(0), ip: 0n })).toEqual({ action: 'ERRNO', data: 0 }); // JEQ X not taken: A stays 0
  });

  it('division by X = 0 ends the filter with 0: SECCOMP_RET_KILL_THREAD', () => {
    const p = prog(stmt(LDX_IMM, 0), stmt(LD_IMM, 10), stmt(ALU_DIV_X, 0), stmt(RET, SECCOMP_RET.ALLOW));
    expect(action(p, call(0)).action).toBe('KILL_THREAD');
  });

  it('TXA, STX/LDX MEM, NEG, AND, LEN and JA', () => {
    const p = prog(
      stmt(LD_LEN, 0), stmt(TAX, 0), stmt(STX, 0), stmt(LDX_MEM, 0), stmt(TXA, 0), // A = 64
      stmt(ALU_NEG, 0), stmt(ALU_AND, 0xff), // -64 & 0xff = 0xc0
      jump(JA, 1, 0, 0), stmt(RET, SECCOMP_RET.KILL_PROCESS),
      jump(JEQ, 0xc0, 0, 1), stmt(RET, SECCOMP_RET.LOG), stmt(RET, SECCOMP_RET.KILL_PROCESS),
    );
    expect(action(p, call(0)).action).toBe('LOG');
  });

  it('refuses what the kernel would not load: bad loads, jumps past the end, no return, unknown codes', () => {
    expect(() => runFilter(prog(stmt(LD_ABS, 2), stmt(RET, 0)), call(0))).toThrow(/not valid/);
    expect(() => runFilter(prog(stmt(LD_ABS, 64), stmt(RET, 0)), call(0))).toThrow(/not valid/);
    expect(() => runFilter(prog(stmt(0x28, 0), stmt(RET, 0)), call(0))).toThrow(/not valid/); // LD H ABS
    expect(() => runFilter(prog(jump(JEQ, 0, 5, 5), stmt(RET, 0)), call(0))).toThrow(/past the end/);
    expect(() => runFilter(prog(stmt(LD_IMM, 0)), call(0))).toThrow(/without a return/);
    expect(() => runFilter(new Uint8Array(7), call(0))).toThrow(/whole number/);
    expect(seccompAction(0x12340000).action).toBe('UNKNOWN');
  });

  it('several filters: the action of highest precedence wins; among equals the newest (first) one', () => {
    const allow = prog(stmt(RET, SECCOMP_RET.ALLOW));
    const errno5 = prog(stmt(RET, SECCOMP_RET.ERRNO | 5));
    const errno9 = prog(stmt(RET, SECCOMP_RET.ERRNO | 9));
    const kill = prog(stmt(RET, SECCOMP_RET.KILL_PROCESS));
    const trace = prog(stmt(RET, SECCOMP_RET.TRACE));
    expect(evaluateFilters([allow, errno5], call(0))).toMatchObject({ action: 'ERRNO', data: 5 });
    expect(evaluateFilters([errno9, errno5], call(0))).toMatchObject({ action: 'ERRNO', data: 9 });
    expect(evaluateFilters([errno5, kill, allow], call(0)).action).toBe('KILL_PROCESS');
    expect(evaluateFilters([trace, errno5], call(0)).action).toBe('ERRNO');
    expect(evaluateFilters([allow, trace], call(0)).action).toBe('TRACE');
    expect(evaluateFilters([], call(0)).action).toBe('ALLOW');
  });
});

describe('requireInjectable', () => {
  // A thread in filter mode is needed for the status line: this test process has none, so mode 0 is
  // checked here and mode 2 (with real filters) in test/hostile/seccomp.test.ts.
  it('no seccomp: allowed without reading filters', () => {
    const reader = () => { throw new Error('must not be called'); };
    expect(requireInjectable(process.pid, process.pid, { name: 'userfaultfd', nr: 323, args: [] }, 0n, true, reader)).toMatchObject({ mode: 0, action: 'ALLOW' });
  });
});
