// The library: what the CLI is built from. README.md "Library" shows it in use.
export { DirtyTrackError, EXIT, SIGNAL_EXIT, exitCodeFor, codeForErrno, type DirtyTrackCode, type DirtyTrackErrorOptions } from './errors.js';
export { parseMaps, parseMapsLine, readMaps, unscannableReason } from './proc/maps.js';
export { decodeEntry, encodeEntry, PM_BITS } from './proc/pagemap-entry.js';
export { PagemapReader } from './proc/pagemap.js';
export { coalesce, mergeRanges, countPages, countRuns, runsToRanges, unionRuns, intersectRuns, countCommonPages } from './ranges.js';
export { clearSoftDirty } from './proc/clear-refs.js';
export { probePagemapScan, probeSoftDirty, probeUffdWp, type Probe } from './kernel/features.js';
export { openBackend, autoBackend, backendAvailability, BACKEND_NAMES, type BackendChoice, type BackendAvailability } from './backends/select.js';
export { trackBuffers, BufferTracker, type BufferScan, type TrackedBuffer } from './backends/buffer-tracker.js';
export { doctor, type DoctorReport } from './doctor.js';
export { scanToJson, type ScanJson } from './report/scan-json.js';
export { scanToText } from './report/scan-text.js';
export { watch, runWatch, type WatchOptions, type LoopOptions, type WatchRound, type WatchSummary, type WatchResult, type StopReason } from './watch/loop.js';
export { backendSource, systemClock, processFreezer, type RoundScan, type RoundSource, type Freezer, type Clock } from './watch/source.js';
export { converged, type StopRule } from './watch/stop-rule.js';
export { estimatePrecopy } from './watch/precopy.js';
export type * from './types.js';
