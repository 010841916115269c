import { writeFileSync } from 'node:fs';
import { fromSystemError } from '../errors.js';
import { memDir } from './process.js';

/** Reset the soft-dirty bits of every page of `pid` (Documentation/admin-guide/mm/soft-dirty.rst). */
export function clearSoftDirty(pid: number | 'self'): void {
  const path = `${memDir(pid)}/clear_refs`;
  try {
    writeFileSync(path, '4');
  } catch (err) {
    throw fromSystemError(err, `cannot write ${path}`, typeof pid === 'number' ? pid : undefined, path);
  }
}
