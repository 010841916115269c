// The library: what the CLI is built from.
export { DirtyTrackError, EXIT, exitCodeFor } from './errors.js';
export { parseMaps, parseMapsLine, readMaps, unscannableReason } from './proc/maps.js';
export { decodeEntry, encodeEntry, PM_BITS } from './proc/pagemap-entry.js';
export { PagemapReader } from './proc/pagemap.js';
export { coalesce, mergeRanges, countPages, countRuns, runsToRanges } from './ranges.js';
export { clearSoftDirty } from './proc/clear-refs.js';
export { probePagemapScan, probeSoftDirty, probeUffdWp, type Probe } from './kernel/features.js';
export { openBackend, autoBackend, backendAvailability } from './backends/select.js';
export { trackBuffers, BufferTracker, type BufferScan, type TrackedBuffer } from './backends/buffer-tracker.js';
export { doctor } from './doctor.js';
export { scanToJson } from './report/scan-json.js';
export { watch } from './watch/loop.js';
export { converged } from './watch/stop-rule.js';
export { estimatePrecopy } from './watch/precopy.js';
export type * from './types.js';
