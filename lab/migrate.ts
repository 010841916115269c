/**
 * QEMU's own answers, over QMP: a pre-copy migration to a second QEMU on loopback (the ground truth
 * for src/watch/precopy.ts) and calc-dirty-rate in page-sampling mode (QEMU's estimate of the
 * dirty rate). Field names are QEMU 7.2's (qapi/migration.json).
 */
import { QmpError, type QmpClient } from './qmp.js';
import type { QemuInstance } from './vm-guest.js';

export interface MigrationParams {
  maxBandwidthBytesPerSec: number;
  downtimeLimitMs: number;
  /** A migration still active after this long is cancelled (it does not converge). */
  cancelAfterSeconds: number;
  pollMs?: number;
}

interface RamInfo {
  transferred: number; remaining: number; total: number; duplicate: number; normal: number;
  'normal-bytes': number; 'dirty-sync-count': number; 'dirty-pages-rate': number; mbps: number;
  'page-size': number; 'precopy-bytes'?: number; 'downtime-bytes'?: number;
}
interface QueryMigrate {
  status: string; 'total-time'?: number; downtime?: number; 'expected-downtime'?: number;
  'setup-time'?: number; ram?: RamInfo; 'error-desc'?: string;
}

export interface MigrationSample { ms: number; status: string; transferred: number; remaining: number; dirtySyncs: number; expectedDowntimeMs?: number; dirtyPagesRate: number }

export interface MigrationOutcome {
  status: 'completed' | 'failed' | 'cancelled';
  error?: string;
  /** QEMU's total-time (completed) or our wall time until cancel. */
  totalMs: number;
  downtimeMs?: number;
  /** Last expected-downtime QEMU reported while active (its own non-convergence figure). */
  expectedDowntimeMs?: number;
  transferredBytes: number;
  /** Bytes sent after the guest stopped (QEMU's downtime-bytes). */
  downtimeBytes?: number;
  zeroPages: number;
  normalPages: number;
  dirtySyncs: number;
  samples: MigrationSample[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Migrates src to dst (listening with -incoming tcp:127.0.0.1:port). Never hangs: QMP calls time out, QEMU dying rejects. */
export async function migrate(src: QemuInstance, port: number, p: MigrationParams): Promise<MigrationOutcome> {
  const qmp = src.qmp;
  await qmp.execute('migrate-set-parameters', { 'max-bandwidth': Math.round(p.maxBandwidthBytesPerSec), 'downtime-limit': Math.round(p.downtimeLimitMs) });
  const started = performance.now();
  await qmp.execute('migrate', { uri: `tcp:127.0.0.1:${port}` });
  const samples: MigrationSample[] = [];
  let cancelled = false;
  let info: QueryMigrate;
  for (;;) {
    info = await qmp.execute<QueryMigrate>('query-migrate');
    const ms = performance.now() - started;
    if (info.ram) {
      samples.push({
        ms: Math.round(ms), status: info.status, transferred: info.ram.transferred, remaining: info.ram.remaining,
        dirtySyncs: info.ram['dirty-sync-count'], expectedDowntimeMs: info['expected-downtime'], dirtyPagesRate: info.ram['dirty-pages-rate'],
      });
    }
    if (['completed', 'failed', 'cancelled'].includes(info.status)) break;
    if (!cancelled && ms > p.cancelAfterSeconds * 1000) {
      await qmp.execute('migrate_cancel');
      cancelled = true;
    }
    await sleep(p.pollMs ?? 200);
  }
  const ram = info.ram;
  const lastActive = [...samples].reverse().find((s) => s.status === 'active' && s.expectedDowntimeMs !== undefined);
  return {
    status: info.status as MigrationOutcome['status'],
    error: info['error-desc'],
    totalMs: info.status === 'completed' && info['total-time'] !== undefined ? info['total-time'] : Math.round(performance.now() - started),
    downtimeMs: info.downtime,
    expectedDowntimeMs: lastActive?.expectedDowntimeMs,
    transferredBytes: ram?.transferred ?? samples.at(-1)?.transferred ?? 0,
    downtimeBytes: ram?.['downtime-bytes'],
    zeroPages: ram?.duplicate ?? 0,
    normalPages: ram?.normal ?? 0,
    dirtySyncs: ram?.['dirty-sync-count'] ?? samples.at(-1)?.dirtySyncs ?? 0,
    samples,
  };
}

export interface DirtyRateResult {
  ok: boolean;
  /** QEMU's estimate, MiB/s (QEMU says MB but means MiB: pages × 4096 >> 20). */
  dirtyRateMiBs?: number;
  /** Why there is no figure: QEMU crashed, timed out, refused. */
  reason?: string;
}

/**
 * calc-dirty-rate in page-sampling mode (hashes sampled guest pages twice). Only this mode:
 * dirty-bitmap mode crashed QEMU 7.2 under TCG. A crash or a stuck measurement ends in a result
 * with a reason, never a hang.
 */
export async function calcDirtyRate(qmp: QmpClient, seconds: number, samplePages = 512): Promise<DirtyRateResult> {
  try {
    await qmp.execute('calc-dirty-rate', { 'calc-time': seconds, 'sample-pages': samplePages, mode: 'page-sampling' });
    const deadline = Date.now() + (seconds + 10) * 1000;
    await sleep(seconds * 1000);
    while (Date.now() < deadline) {
      const r = await qmp.execute<{ status: string; 'dirty-rate'?: number }>('query-dirty-rate');
      if (r.status === 'measured') return { ok: true, dirtyRateMiBs: r['dirty-rate'] };
      await sleep(200);
    }
    return { ok: false, reason: `calc-dirty-rate still measuring ${seconds + 10} s after the start` };
  } catch (err) {
    return { ok: false, reason: err instanceof QmpError ? err.message : String(err) };
  }
}
