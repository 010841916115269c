import { autoBackend, openBackend } from '../../src/backends/select.js';
import { DirtyTrackError } from '../../src/errors.js';
import { experimentBackendChoice } from './lockstep.js';

/** Why this machine's kernel cannot run the experiments natively, or null when it can. */
export function localTrackingProblem(): string | null {
  const choice = experimentBackendChoice();
  try {
    if (choice === 'auto') autoBackend();
    else openBackend(process.pid, choice).release();
    return null;
  } catch (err) {
    if (err instanceof DirtyTrackError && (err.code === 'ENOSOFTDIRTY' || err.code === 'ENOTSUP')) return err.message;
    throw err;
  }
}
