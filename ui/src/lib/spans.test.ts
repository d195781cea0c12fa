import { describe, expect, it } from 'vitest';
import { segments } from './spans';
import type { Annotation } from './types';

const span = (id: number, s: number, e: number): Annotation => ({
  id,
  class_name: 'X',
  kind: 'span',
  span_start: s,
  span_end: e,
});

describe('text segments', () => {
  it('cuts at every boundary and keeps the covering spans', () => {
    const segs = segments('Hello big world', [span(1, 6, 15)], [span(2, 0, 9)]);
    expect(segs.map((s) => s.text)).toEqual(['Hello ', 'big', ' world']);
    expect(segs.map((s) => [s.gold.length, s.pred.length])).toEqual([
      [0, 1],
      [1, 1],
      [1, 0],
    ]);
    expect(segs.map((s) => s.text).join('')).toBe('Hello big world');
  });

  it('a text without spans is one segment', () => {
    expect(segments('<script>x</script>', [], [])).toEqual([
      { start: 0, end: 18, text: '<script>x</script>', gold: [], pred: [] },
    ]);
  });
});
