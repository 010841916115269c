import { describe, expect, it } from 'vitest';
import { MAX_TIMER_MS, parseBandwidth, parseCount, parseDuration, parsePid, parseTolerance } from '../../src/cli/args.js';

const usage = expect.objectContaining({ code: 'EUSAGE' });

describe('argument parsing', () => {
  it('pids: 1 to 4194303, the largest Linux hands out', () => {
    expect(parsePid('1')).toBe(1);
    expect(parsePid('4194303')).toBe(4194303);
    for (const bad of [undefined, '', 'x', '-1', '0', '4194304', '4194305', '1e3', ' 12', '12 ', '0x10']) expect(() => parsePid(bad)).toThrow(usage);
  });
  it('durations', () => {
    const table: Array<[string, number]> = [['200', 200], ['35791m', 35791 * 60000], ['50ms', 50], ['1s', 1000], ['1.5s', 1500], ['2m', 120000], [String(MAX_TIMER_MS), MAX_TIMER_MS]];
    for (const [text, ms] of table) expect(parseDuration(text, 'i')).toBe(ms);
    // 2^31 ms and above would fire after 1 ms in a Node timer
    for (const bad of ['', 'fast', '0', '0ms', '-1s', '1h', ' 1s', String(2 ** 31), '35792m', '24.9d', '1e3']) expect(() => parseDuration(bad, 'i'), bad).toThrow(usage);
  });
  it('tolerance: a percentage below 100 or a fraction below 1, nothing else', () => {
    const table: Array<[string, number]> = [['5%', 0.05], ['0.5%', 0.005], ['0%', 0], ['99%', 0.99], ['0.1', 0.1], ['.25', 0.25], ['0', 0], ['0.999', 0.999]];
    for (const [text, t] of table) expect(parseTolerance(text)).toBeCloseTo(t, 10);
    for (const bad of ['', '1', '2', '10', '1.0', '100%', '150%', '%', '5 %', '-0.1', 'x', '5%%']) expect(() => parseTolerance(bad), bad).toThrow(usage);
  });
  it('counts', () => {
    expect(parseCount('3', 'n')).toBe(3);
    expect(parseCount('0', 'n', 0)).toBe(0);
    for (const bad of ['', '0', '2.5', '-1', 'x', '1e3', ' 3', '99999999999999999999']) expect(() => parseCount(bad, 'n'), bad).toThrow(usage);
  });
  it('bandwidths', () => {
    expect(parseBandwidth('1GiB/s')).toBe(2 ** 30);
    expect(parseBandwidth('100MB/s')).toBe(100e6);
    expect(parseBandwidth('10Gbit/s')).toBe(10e9 / 8);
    expect(parseBandwidth('10Gb')).toBe(10e9 / 8);
    expect(parseBandwidth('125')).toBe(125 * 2 ** 20);
    for (const bad of ['fast', '', '0', '0GiB/s', '0.0']) expect(() => parseBandwidth(bad), bad).toThrow(usage);
  });
});
