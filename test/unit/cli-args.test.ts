import { describe, expect, it } from 'vitest';
import { parseBandwidth, parseDuration, parseNumber, parsePid } from '../../src/cli/args.js';

describe('argument parsing', () => {
  it('pids', () => {
    expect(parsePid('1')).toBe(1);
    expect(parsePid('4194304')).toBe(4194304);
    for (const bad of [undefined, '', 'x', '-1', '0', '4194305', '1e3', ' 12']) expect(() => parsePid(bad)).toThrow(expect.objectContaining({ code: 'EUSAGE' }));
  });
  it('durations', () => {
    expect(parseDuration('200', 'i')).toBe(200);
    expect(parseDuration('50ms', 'i')).toBe(50);
    expect(parseDuration('1s', 'i')).toBe(1000);
    expect(parseDuration('1.5s', 'i')).toBe(1500);
    expect(parseDuration('2m', 'i')).toBe(120000);
    for (const bad of ['', 'fast', '0', '-1s', '1h']) expect(() => parseDuration(bad, 'i')).toThrow(expect.objectContaining({ code: 'EUSAGE' }));
  });
  it('tolerances as fraction or percent', () => {
    expect(parseNumber('5%', 't', { asFraction: true })).toBeCloseTo(0.05);
    expect(parseNumber('0.1', 't', { asFraction: true })).toBeCloseTo(0.1);
    expect(parseNumber('10', 't', { asFraction: true })).toBeCloseTo(0.1);
    expect(() => parseNumber('x', 't')).toThrow();
    expect(() => parseNumber('2.5', 'n', { integer: true })).toThrow();
  });
  it('bandwidths', () => {
    expect(parseBandwidth('1GiB/s')).toBe(2 ** 30);
    expect(parseBandwidth('100MB/s')).toBe(100e6);
    expect(parseBandwidth('10Gbit/s')).toBe(10e9 / 8);
    expect(parseBandwidth('10Gb')).toBe(10e9 / 8);
    expect(parseBandwidth('125')).toBe(125 * 2 ** 20);
    expect(() => parseBandwidth('fast')).toThrow(expect.objectContaining({ code: 'EUSAGE' }));
  });
});
