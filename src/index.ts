// The library: what the CLI is built from.
export { DirtyTrackError, EXIT, exitCodeFor } from './errors.js';
export { parseMaps, parseMapsLine, readMaps, unscannableReason } from './maps.js';
export { decodeEntry, encodeEntry, PM_BITS } from './pagemap-entry.js';
export { PagemapReader } from './pagemap.js';
export { coalesce, mergeRanges, countPages, countRuns, runsToRanges } from './ranges.js';
export { clearSoftDirty } from './clear-refs.js';
export { probeSoftDirty } from './probe-soft-dirty.js';
export { openBackend, autoBackend, backendAvailability } from './backend-select.js';
export { doctor } from './doctor.js';
export { scanToJson } from './report-json.js';
export { watch } from './watch.js';
export { converged } from './stop-rule.js';
export { estimatePrecopy } from './precopy.js';
export type * from './types.js';
