import { describe, expect, it } from 'vitest';
import { countsOf, decodeCounts, decodeMask, encodeCounts, maskArea } from './rle';

// pycocotools.mask.encode of this 5 x 4 mask (rows top to bottom) gave b'411210ON3'.
const MASK = [
  [0, 0, 0, 1],
  [0, 1, 1, 0],
  [0, 1, 1, 0],
  [0, 1, 1, 0],
  [1, 0, 0, 0],
];

describe('COCO RLE', () => {
  it('decodes a pycocotools string to the mask it encoded', () => {
    const bitmap = decodeMask('411210ON3', 5, 4);
    const rows = MASK.map((_, y) => Array.from(bitmap.slice(y * 4, y * 4 + 4)));
    expect(rows).toEqual(MASK);
    expect(maskArea(decodeCounts('411210ON3'))).toBe(8);
  });

  it('round-trips counts through the string form, negative deltas included', () => {
    const counts = [4, 1, 1, 2, 1, 0, 0, 3, 1, 3, 4, 1, 100, 2, 1, 5000];
    expect(decodeCounts(encodeCounts(counts))).toEqual(counts);
  });

  it('round-trips a mask through countsOf and decodeMask', () => {
    const h = 7;
    const w = 9;
    const mask = new Uint8Array(h * w).map((_, i) => ((i * 7) % 5 === 0 ? 1 : 0));
    expect(Array.from(decodeMask(countsOf(mask, h, w), h, w))).toEqual(Array.from(mask));
  });

  it('rejects runs that do not fit the size', () => {
    expect(() => decodeMask([3, 30], 4, 4)).toThrow(/exceed/);
    expect(() => decodeMask([3, 3], 4, 4)).toThrow(/cover 6/);
    expect(() => decodeCounts('4P')).toThrow(/truncated/);
  });
});
