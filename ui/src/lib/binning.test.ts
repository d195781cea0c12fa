import { describe, expect, it } from 'vitest';
import { equalBins, metricDomain } from './binning';

describe('equal-width bins', () => {
  it('makes 20 bins over [0, 1], half-open except the last', () => {
    const values = [0, 0.05, 0.049, 0.5, 0.999, 1, null, NaN, 1.2, -0.1];
    const bins = equalBins(values, 20, [0, 1]);
    expect(bins).toHaveLength(20);
    expect(bins[0]).toMatchObject({ lo: 0, count: 2 });
    expect(bins[1].count).toBe(1); // 0.05 opens the second bin
    expect(bins[10].count).toBe(1);
    expect(bins[19]).toMatchObject({ hi: 1, count: 2 }); // 0.999 and 1
    expect(bins.reduce((a, b) => a + b.count, 0)).toBe(6);
    for (let i = 1; i < 20; i++) expect(bins[i].lo).toBe(bins[i - 1].hi);
  });

  it('counts get a [0, max] domain', () => {
    expect(metricDomain('fp', [0, 3, 7, null], false)).toEqual([0, 7]);
    expect(metricDomain('fp', [0], false)).toEqual([0, 1]);
    const bins = equalBins([0, 1, 2, 3, 7, 7], 7, [0, 7]);
    expect(bins.map((b) => b.count)).toEqual([1, 1, 1, 1, 0, 0, 2]);
  });
});
