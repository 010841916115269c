// examples/prometheus/ must stay valid for the Prometheus that setup.sh installs, and its alerts must fire.
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

const DIR = ROOT + 'examples/prometheus/';

function promtool(...args: string[]) {
  const r = spawnSync('promtool', args, { cwd: DIR, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`promtool not found (${r.error.message}): install Debian's prometheus package (bash scripts/setup.sh does)`);
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('examples/prometheus', () => {
  it('promtool is the one setup.sh installs', () => {
    expect(() => execFileSync('promtool', ['--version'], { encoding: 'utf8' })).not.toThrow();
  });
  it('scrape configuration', () => {
    const r = promtool('check', 'config', 'prometheus.yml');
    expect(r.out).toContain('SUCCESS');
    expect(r.code, r.out).toBe(0);
  });
  it('recording rules and alerts', () => {
    const r = promtool('check', 'rules', 'dirtytrack-rules.yml');
    expect(r.code, r.out).toBe(0);
  });
  it('the alerts fire when they should and only then (promtool test rules)', () => {
    const r = promtool('test', 'rules', 'dirtytrack-rules.test.yml');
    expect(r.code, r.out).toBe(0);
  });
});
