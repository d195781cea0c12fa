import { describe, expect, it } from 'vitest';
import { columnsFor, rangeBetween, visibleWindow } from './virtual';

describe('gallery windowing', () => {
  it('fits columns with gaps', () => {
    expect(columnsFor(1000, 200, 8)).toBe(4);
    expect(columnsFor(100, 200, 8)).toBe(1);
  });

  it('renders only the rows near the viewport of a 100k grid', () => {
    const w = visibleWindow(50_000, 800, 1000, 100_000, 200, 220, 8, 1);
    expect(w.columns).toBe(4);
    expect(w.end - w.start).toBeLessThanOrEqual(4 * 7);
    expect(w.start % 4).toBe(0);
    expect(w.top).toBe((w.start / 4) * 228);
    expect(w.height).toBe(25_000 * 228 - 8);
    expect(visibleWindow(0, 800, 1000, 3, 200, 220, 8).end).toBe(3);
  });

  it('ranges for shift-click go either way', () => {
    expect(rangeBetween(5, 2)).toEqual([2, 3, 4, 5]);
  });
});
