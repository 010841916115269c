import type { TargetLock } from '../proc/lock.js';
import type { Backend, ScanOptions, ScanResult } from '../types.js';

/** A backend that holds its target's lock until it is closed or released. */
export class LockedBackend implements Backend {
  constructor(private readonly inner: Backend, private readonly lock: TargetLock) {}

  get name() { return this.inner.name; }
  get pid() { return this.inner.pid; }
  clear(): void { this.inner.clear(); }
  scan(opts?: ScanOptions): ScanResult { return this.inner.scan(opts); }

  close(): void {
    try {
      this.inner.close();
    } finally {
      this.lock.release();
    }
  }

  release(): void {
    try {
      this.inner.release();
    } finally {
      this.lock.release();
    }
  }
}
