import { describe, expect, it } from 'vitest';
import { Selection } from './selection.svelte';

// the loaded rows: position i holds row id ROWS[i]
const ROWS = [40, 10, 30, 20, 50];
const rowAt = (i: number): number | undefined => ROWS[i];

describe('row selection', () => {
  it('toggles a row per click', () => {
    const s = new Selection();
    s.click(2, false, rowAt);
    s.click(0, false, rowAt);
    expect(s.sorted()).toEqual([30, 40]);
    expect(s.has(30) && s.has(40) && !s.has(10)).toBe(true);
    s.click(2, false, rowAt);
    expect(s.sorted()).toEqual([40]);
    expect(s.count(99)).toBe(1);
  });

  it('adds the range from the last clicked row on shift+click, either direction', () => {
    const s = new Selection();
    s.click(3, false, rowAt);
    s.click(1, true, rowAt);
    expect(s.sorted()).toEqual([10, 20, 30]);
    // the anchor moved to 1: a range up to 0 adds 40 and keeps the rest
    s.click(0, true, rowAt);
    expect(s.sorted()).toEqual([10, 20, 30, 40]);
    // a range reaching past the loaded rows adds only the loaded ones
    s.click(7, true, rowAt);
    expect(s.sorted()).toEqual([10, 20, 30, 40, 50]);
  });

  it('shift+click without an earlier click toggles the one row', () => {
    const s = new Selection();
    s.click(4, true, rowAt);
    expect(s.sorted()).toEqual([50]);
  });

  it('selects every matching row, then a click goes back to listed ids', () => {
    const s = new Selection();
    s.click(0, false, rowAt);
    s.selectAll();
    expect(s.allMatching).toBe(true);
    expect(s.has(12345)).toBe(true);
    expect(s.count(1000)).toBe(1000);
    expect(s.count(null)).toBe(0);
    const filter = { type: 'slice', name: 'x' };
    expect(s.rows(filter)).toEqual({ filter });
    // no anchor survives "select all": shift+click selects just the clicked row
    s.click(3, true, rowAt);
    expect(s.allMatching).toBe(false);
    expect(s.sorted()).toEqual([20]);
    expect(s.rows(filter)).toEqual({ ids: [20] });
  });

  it('clears the ids, "all matching" and the range anchor', () => {
    const s = new Selection();
    s.click(1, false, rowAt);
    s.selectAll();
    s.clear();
    expect(s.allMatching).toBe(false);
    expect(s.count(1000)).toBe(0);
    s.click(2, false, rowAt);
    s.clear();
    s.click(4, true, rowAt);
    expect(s.sorted()).toEqual([50]);
  });
});
