import type { TargetLock } from '../proc/lock.js';
import type { Backend } from '../types.js';

/**
 * Make `backend` hold its target's lock until close() or release(). The instance itself is returned
 * (its own methods patched), so callers keep the class they opened.
 */
export function holdLock<B extends Backend>(backend: B, lock: TargetLock): B {
  const close = backend.close.bind(backend);
  const release = backend.release.bind(backend);
  const unlockAfter = (step: () => void) => () => {
    try {
      step();
    } finally {
      lock.release();
    }
  };
  backend.close = unlockAfter(close);
  backend.release = unlockAfter(release);
  return backend;
}
