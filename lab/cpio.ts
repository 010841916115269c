import fs from 'node:fs';

/**
 * Minimal writer for the "newc" cpio format the kernel unpacks as initramfs
 * (Documentation/driver-api/early-userspace/buffer-format.rst). Writing it ourselves lets
 * us place files from anywhere on the host at any guest path and add device nodes without
 * a staging copy of ~200 MB.
 */
export class CpioWriter {
  private fd: number;
  private ino = 1;
  private offset = 0;
  private readonly dirs = new Set<string>(['']);

  constructor(file: string) {
    this.fd = fs.openSync(file, 'w');
  }

  /** Creates `dir` and its parents (the kernel does not create missing parents). */
  dir(dir: string, mode = 0o755): void {
    const clean = trimSlashes(dir);
    if (this.dirs.has(clean)) return;
    this.dir(parentOf(clean));
    this.dirs.add(clean);
    this.entry(clean, 0o040000 | mode, Buffer.alloc(0), 2);
  }

  file(name: string, data: Buffer, mode = 0o644, mtime?: number): void {
    const clean = trimSlashes(name);
    this.dir(parentOf(clean));
    this.entry(clean, 0o100000 | (mode & 0o7777), data, 1, mtime);
  }

  symlink(name: string, target: string): void {
    const clean = trimSlashes(name);
    this.dir(parentOf(clean));
    this.entry(clean, 0o120777, Buffer.from(target), 1);
  }

  charDevice(name: string, major: number, minor: number, mode = 0o600): void {
    const clean = trimSlashes(name);
    this.dir(parentOf(clean));
    this.entry(clean, 0o020000 | mode, Buffer.alloc(0), 1, undefined, major, minor);
  }

  close(): void {
    this.entry('TRAILER!!!', 0, Buffer.alloc(0), 1, 0);
    fs.closeSync(this.fd);
  }

  private entry(name: string, mode: number, data: Buffer, nlink: number, mtime = Math.floor(Date.now() / 1000), rdevMajor = 0, rdevMinor = 0): void {
    const nameBytes = Buffer.from(name + '\0');
    const fields = [this.ino++, mode, 0, 0, nlink, mtime, data.length, 0, 0, rdevMajor, rdevMinor, nameBytes.length, 0];
    const header = '070701' + fields.map((v) => v.toString(16).padStart(8, '0')).join('');
    this.write(Buffer.from(header, 'ascii'));
    this.write(nameBytes);
    this.pad();
    this.write(data);
    this.pad();
  }

  private write(buf: Buffer): void {
    let done = 0;
    while (done < buf.length) done += fs.writeSync(this.fd, buf, done, buf.length - done);
    this.offset += buf.length;
  }

  private pad(): void {
    const rest = this.offset % 4;
    if (rest) this.write(Buffer.alloc(4 - rest));
  }
}

function trimSlashes(p: string): string {
  return p.replace(/^\/+|\/+$/g, '');
}

function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}
