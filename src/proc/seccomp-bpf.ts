/**
 * A classic-BPF interpreter for seccomp filters (Documentation/userspace-api/seccomp_filter.rst,
 * Documentation/networking/filter.rst): it answers what a target's filters would do with one system
 * call before dirtytrack injects it. Only what the kernel's seccomp_check_filter accepts is
 * implemented; anything else throws, and a filter that cannot be evaluated is never trusted.
 */
import { DirtyTrackError } from '../errors.js';

/** A filter this interpreter cannot evaluate (the kernel would not have loaded it). */
const malformed = (message: string) => new DirtyTrackError('EIO', `seccomp filter: ${message}`);

export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const AUDIT_ARCH_I386 = 0x40000003;

/** struct seccomp_data: what a filter sees of one system call. */
export interface SeccompData {
  nr: number;
  arch: number;
  /** Address of the instruction after `syscall`. */
  ip: bigint;
  args: bigint[];
}

/** sizeof(struct seccomp_data): nr, arch (4 bytes each), instruction_pointer, args[6] (8 each). */
export const SECCOMP_DATA_SIZE = 64;

export type SeccompAction = 'KILL_PROCESS' | 'KILL_THREAD' | 'TRAP' | 'ERRNO' | 'USER_NOTIF' | 'TRACE' | 'LOG' | 'ALLOW' | 'UNKNOWN';

/** SECCOMP_RET_* action values (include/uapi/linux/seccomp.h). */
export const SECCOMP_RET: Record<Exclude<SeccompAction, 'UNKNOWN'>, number> = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
};
const ACTION_FULL = 0xffff0000;

/** The action and its 16-bit data (the errno of ERRNO) of a filter's return value. */
export function seccompAction(ret: number): { action: SeccompAction; data: number } {
  const full = (ret & ACTION_FULL) >>> 0;
  const action = (Object.keys(SECCOMP_RET) as Array<keyof typeof SECCOMP_RET>).find((a) => SECCOMP_RET[a] === full) ?? 'UNKNOWN';
  return { action, data: ret & 0xffff };
}

/** The 32-bit word at byte offset `k` of the seccomp_data (little-endian, as on x86-64). */
function dataWord(d: SeccompData, k: number): number {
  if (k === 0) return d.nr >>> 0;
  if (k === 4) return d.arch >>> 0;
  const v = k < 16 ? d.ip : d.args[(k - 16) >> 3] ?? 0n;
  return Number(BigInt.asUintN(32, (k & 4) === 0 ? v : v >> 32n));
}

/** A filter this interpreter cannot run (the kernel would not have loaded it): never trusted. */
const bpfError = (message: string) => new DirtyTrackError('EIO', `seccomp filter: ${message}`);

/** Bytes of one instruction: u16 code, u8 jt, u8 jf, u32 k. */
const INSN = 8;

/** Run one filter program over `d`; returns its 32-bit return value. Throws on anything the kernel would not load. */
export function runFilter(prog: Uint8Array, d: SeccompData): number {
  if (prog.length === 0 || prog.length % INSN !== 0) throw malformed(`filter of ${prog.length} bytes is not a whole number of instructions`);
  const view = new DataView(prog.buffer, prog.byteOffset, prog.byteLength);
  const n = prog.length / INSN;
  const mem = new Uint32Array(16);
  let a = 0;
  let x = 0;
  for (let pc = 0, steps = 0; pc < n; pc++, steps++) {
    if (steps > n) throw malformed('filter loops'); // jumps only go forward: cannot happen in a loaded filter
    const code = view.getUint16(pc * INSN, true);
    const jt = view.getUint8(pc * INSN + 2);
    const jf = view.getUint8(pc * INSN + 3);
    const k = view.getUint32(pc * INSN + 4, true);
    const bad = () => malformed(`instruction ${pc} (code 0x${code.toString(16)}, k ${k}) is not valid in a seccomp filter`);
    switch (code & 0x07) {
      case 0x00: // LD
        if (code === 0x20) { // W ABS
          if (k >= SECCOMP_DATA_SIZE || (k & 3) !== 0) throw bad();
          a = dataWord(d, k);
        } else if (code === 0x80) a = SECCOMP_DATA_SIZE; // W LEN
        else if (code === 0x00) a = k; // IMM
        else if (code === 0x60) a = mem[memIndex(k, bad)]; // MEM
        else throw bad();
        break;
      case 0x01: // LDX
        if (code === 0x81) x = SECCOMP_DATA_SIZE;
        else if (code === 0x01) x = k;
        else if (code === 0x61) x = mem[memIndex(k, bad)];
        else throw bad();
        break;
      case 0x02: mem[memIndex(k, bad)] = a; break; // ST
      case 0x03: mem[memIndex(k, bad)] = x; break; // STX
      case 0x04: { // ALU
        const op = code & 0xf0;
        const src = (code & 0x08) !== 0 ? x : k;
        if ((op === 0x30 || op === 0x90) && src === 0) {
          if ((code & 0x08) === 0) throw bad(); // the checker refuses a constant 0 divisor
          return 0; // division by X = 0 ends the program with 0 (SECCOMP_RET_KILL_THREAD)
        }
        a = alu(op, a, src, bad);
        break;
      }
      case 0x05: { // JMP
        const op = code & 0xf0;
        if (op === 0x00) {
          if (code !== 0x05) throw bad();
          pc += k;
        } else {
          const src = (code & 0x08) !== 0 ? x : k;
          const taken = op === 0x10 ? a === src : op === 0x20 ? a > src : op === 0x30 ? a >= src : op === 0x40 ? (a & src) !== 0 : undefined;
          if (taken === undefined) throw bad();
          pc += taken ? jt : jf;
        }
        if (pc + 1 >= n) throw malformed(`instruction ${pc} jumps past the end of the filter`);
        break;
      }
      case 0x06: // RET
        if (code === 0x06) return k;
        if (code === 0x16) return a;
        throw bad();
      case 0x07: // MISC
        if (code === 0x07) x = a; // TAX
        else if (code === 0x87) a = x; // TXA
        else throw bad();
        break;
    }
  }
  throw malformed('filter ends without a return');
}

function memIndex(k: number, bad: () => Error): number {
  if (k >= 16) throw bad();
  return k;
}

function alu(op: number, a: number, src: number, bad: () => Error): number {
  switch (op) {
    case 0x00: return (a + src) >>> 0;
    case 0x10: return (a - src) >>> 0;
    case 0x20: return Math.imul(a, src) >>> 0;
    case 0x30: return Math.floor(a / src) >>> 0;
    case 0x40: return (a | src) >>> 0;
    case 0x50: return (a & src) >>> 0;
    case 0x60: return (a << (src & 31)) >>> 0; // the kernel masks a shift by X to 5 bits
    case 0x70: return a >>> (src & 31);
    case 0x80: return (-a) >>> 0;
    case 0x90: return a % src;
    case 0xa0: return (a ^ src) >>> 0;
    default: throw bad();
  }
}

/**
 * What all of a thread's filters together do with one call: each runs, and the kernel takes the
 * action of highest precedence — the lowest value as a signed 32-bit number (kernel/seccomp.c).
 */
export function evaluateFilters(progs: Uint8Array[], d: SeccompData): { ret: number; action: SeccompAction; data: number } {
  let ret = SECCOMP_RET.ALLOW;
  for (const p of progs) {
    const r = runFilter(p, d);
    if ((r & ACTION_FULL) < (ret & ACTION_FULL)) ret = r; // `&` yields signed 32-bit values
  }
  return { ret: ret >>> 0, ...seccompAction(ret) };
}
