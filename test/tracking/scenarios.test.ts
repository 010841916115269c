// Kernel-behaviour scenarios (../shared/SCENARIOS.md) against the scenario target's own truth.
import { describe, expect, it } from 'vitest';
import { runScenario, SCENARIOS } from '../../experiments/lib/scenarios.js';
import { workingBackends } from './backends.js';

for (const backend of workingBackends()) {
  describe(`scenarios with ${backend}`, () => {
    for (const s of SCENARIOS) {
      it(`${s.name}: ${s.exact ? 'exactly the written pages' : 'every written page (granularity measured)'}`, async () => {
        const { acc } = await runScenario(s, backend);
        expect(acc.recall).toBe(1);
        if (s.exact) expect(acc).toMatchObject({ precision: 1, falsePositives: 0 });
      });
    }
  });
}
