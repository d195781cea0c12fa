import { describe, expect, it } from 'vitest';
import { apply, bounds, fitContain, flatToPoints, invert, pan, xyxyToRect, zoomAt } from './geometry';

describe('transforms', () => {
  it('apply and invert are inverses', () => {
    const t = { k: 2.5, x: -30, y: 12 };
    const [sx, sy] = apply(t, 7, 9);
    expect(invert(t, sx, sy)).toEqual([7, 9]);
  });

  it('fits content inside a viewport, centered', () => {
    const t = fitContain(500, 375, 1000, 1000);
    expect(t.k).toBe(2);
    expect(apply(t, 0, 0)).toEqual([0, 125]);
    expect(apply(t, 500, 375)).toEqual([1000, 875]);
  });

  it('zooms around the pointer, which stays on the same data point', () => {
    const t0 = pan(fitContain(100, 100, 400, 300), 10, -5);
    const before = invert(t0, 123, 77);
    const t1 = zoomAt(t0, 3, 123, 77);
    expect(t1.k).toBeCloseTo(t0.k * 3);
    const after = invert(t1, 123, 77);
    expect(after[0]).toBeCloseTo(before[0]);
    expect(after[1]).toBeCloseTo(before[1]);
    expect(zoomAt(t0, 1e9, 0, 0).k).toBe(1e4);
  });

  it('bounds skip non-finite values', () => {
    expect(bounds([1, NaN, -2, 5], [3, 0, 4, -1])).toEqual([-2, -1, 5, 4]);
    expect(bounds([], [])).toBeNull();
  });

  it('converts annotation geometry to SVG', () => {
    expect(xyxyToRect(10, 20, 4, 2)).toEqual([4, 2, 6, 18]);
    expect(flatToPoints([1, 2, 3, 4, 5])).toBe('1,2 3,4');
  });
});
