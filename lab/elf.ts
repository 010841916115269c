import fs from 'node:fs';

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const PT_INTERP = 3;

/** Reads the first `length` bytes of a file (fewer if the file is shorter). */
function readHead(file: string, length: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const n = fs.readSync(fd, buf, 0, length, 0);
    return buf.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

export function isElf(file: string): boolean {
  return readHead(file, 4).equals(ELF_MAGIC);
}

/**
 * True for a 64-bit little-endian ELF without a PT_INTERP program header, i.e. one the
 * kernel can run without ld.so and shared libraries (what the initramfs needs for busybox).
 */
export function isStaticElf64(file: string): boolean {
  const head = readHead(file, 64);
  if (head.length < 64 || !head.subarray(0, 4).equals(ELF_MAGIC)) return false;
  if (head[4] !== 2 || head[5] !== 1) return false; // ELFCLASS64, little-endian
  const phoff = Number(head.readBigUInt64LE(0x20));
  const phentsize = head.readUInt16LE(0x36);
  const phnum = head.readUInt16LE(0x38);
  const table = readHead(file, phoff + phentsize * phnum).subarray(phoff);
  for (let i = 0; i < phnum; i++) {
    if (table.readUInt32LE(i * phentsize) === PT_INTERP) return false;
  }
  return true;
}
