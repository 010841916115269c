/** What every section gets: the mode, sizes scaled to it, and a logger. */
export interface Ctx {
  quick: boolean;
  log: (msg: string) => void;
  /** Measurements several sections share (one run measures each configuration once). */
  cache: Map<string, unknown>;
}

export interface Goal {
  goal: string;
  /** true met, false missed, null not measurable here. */
  met: boolean | null;
  measured: string;
}

export interface SectionResult {
  id: number;
  title: string;
  /** When this section was measured (ISO time); all sections of one `npm run bench` share a run id. */
  measuredAt: string;
  runId: string;
  /** Share of CPU time the hypervisor gave to other guests while this section ran (/proc/stat steal). */
  stealPct: number;
  /** Share of the machine's CPU in use (by anything else) right before the section started. */
  busyBeforePct: number;
  /** Share of all CPU time used by processes other than the bench and its children during the section. */
  othersPct: number;
  /** How many times the section was measured (again when other processes disturbed it). */
  attempts?: number;
  markdown: string;
  goals: Goal[];
  data: unknown;
  /** Extra files written beside bench.md (SVG plots), name → content. */
  files?: Record<string, string>;
}

export type Section = {
  id: number;
  title: string;
  run: (ctx: Ctx) => Promise<Omit<SectionResult, 'id' | 'title' | 'measuredAt' | 'runId' | 'stealPct' | 'busyBeforePct' | 'othersPct' | 'attempts'>>;
};

export const MiB = 1 << 20;
export const GiB = 1 << 30;
export const PAGE = 4096;
export const pagesOfBytes = (bytes: number): number => Math.floor(bytes / PAGE);

/** "64 MiB", "16 GiB", "4 TiB". */
export function sizeLabel(bytes: number): string {
  const units: Array<[number, string]> = [[2 ** 40, 'TiB'], [GiB, 'GiB'], [MiB, 'MiB'], [1024, 'KiB']];
  for (const [u, name] of units) if (bytes >= u) return `${+(bytes / u).toFixed(bytes % u === 0 ? 0 : 1)} ${name}`;
  return `${bytes} B`;
}
