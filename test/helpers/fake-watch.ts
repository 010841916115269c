// Fakes for the watch loop: a round source scripted round by round, a clock that only moves when the loop waits.
import { DirtyTrackError } from '../../src/errors.js';
import type { Clock, Freezer, RoundSource } from '../../src/watch/source.js';
import type { ImageState } from '../../src/proc/image.js';
import type { Runs } from '../../src/types.js';

export const runs = (...xs: number[]): Runs => Float64Array.from(xs);

/** What round n (1-based) scans: page sets by key, or an error to throw; state: what state() says before it. */
export interface ScriptedRound {
  sets?: Record<string, Runs>;
  error?: unknown;
  /** state() from the check before this round's scan on; default 'running'. */
  stateBefore?: ImageState;
  /** state() right after this round's scan. */
  stateAfter?: ImageState;
  /** Clock time the scan takes. */
  scanMs?: number;
}

export class FakeClock implements Clock {
  t = 1000;
  sleeps: number[] = [];
  now = () => this.t;
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    if (signal?.aborted) throw signal.reason;
    this.t += ms;
    await Promise.resolve();
    if (signal?.aborted) throw signal.reason;
  }
}

export class FakeSource implements RoundSource<{ round: number }> {
  readonly backend = 'uffd-wp' as const;
  readonly pid = 4242;
  cleared = 0;
  scanned = 0;
  closed = 0;
  private current: ImageState = 'running';
  private justScanned = false;

  constructor(private readonly script: ScriptedRound[], private readonly clock: FakeClock, private readonly clearError?: unknown) {}

  clear(): void {
    this.cleared++;
    if (this.clearError) throw this.clearError;
  }

  scan(): { scan: { pageSize: number; dirtyPages: number; sets: Map<string, Runs> }; raw: { round: number } } {
    const r = this.script[this.scanned++] ?? this.script.at(-1)!;
    this.clock.t += r.scanMs ?? 1;
    this.justScanned = true;
    if (r.stateAfter) this.current = r.stateAfter;
    if (r.error !== undefined) throw r.error;
    const sets = new Map(Object.entries(r.sets ?? {}));
    let dirtyPages = 0;
    for (const s of sets.values()) for (let i = 0; i < s.length; i += 2) dirtyPages += s[i + 1] - s[i];
    return { scan: { pageSize: 4096, dirtyPages, sets }, raw: { round: this.scanned } };
  }

  state(): ImageState {
    if (this.justScanned) {
      this.justScanned = false;
      return this.current;
    }
    const next = this.script[this.scanned];
    if (next?.stateBefore) this.current = next.stateBefore;
    return this.current;
  }

  residentBytes = () => 1 << 20;

  close(): void {
    this.closed++;
  }
}

export class FakeFreezer implements Freezer {
  frozen = 0;
  thawed = 0;
  constructor(readonly active: boolean) {}
  freeze = () => { if (this.active) this.frozen++; };
  thaw = () => { if (this.active) this.thawed++; };
}

export const gone = (pid = 4242) => new DirtyTrackError('ESRCH', `no such process: ${pid} (exited during the scan)`, { pid });
