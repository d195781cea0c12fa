import { describe, expect, it } from 'vitest';
import { pixel, rasterize } from './raster';

describe('point rasterizer', () => {
  it('packs colors as little-endian RGBA and fades toward white', () => {
    expect(pixel('#ff0000')).toBe(0xff0000ff);
    expect(pixel('#000000', 0.5)).toBe(0xff808080);
  });

  it('draws squares at transformed positions, clipped, with the group colors', () => {
    const w = 10;
    const h = 6;
    const buf = new Uint32Array(w * h);
    const t = { k: 2, x: 1, y: 0 };
    // point 0 at (2*1+1, 2*1) = (3, 2); point 1 off the right edge; point 2 at the corner
    const drawn = rasterize(buf, w, h, [1, 20, 4], [1, 1, 2.5], t, 1, [0, 1, 1], [7, 9], 2);
    expect(drawn).toBe(2);
    const at = (x: number, y: number) => buf[y * w + x];
    expect([at(2, 1), at(3, 1), at(2, 2), at(3, 2)]).toEqual([7, 7, 7, 7]);
    expect(at(4, 2)).toBe(0);
    expect([at(8, 4), at(9, 4), at(8, 5), at(9, 5)]).toEqual([9, 9, 9, 9]);
    expect(buf.reduce((n, v) => n + (v ? 1 : 0), 0)).toBe(8);
  });

  it('draws only the masked points', () => {
    const buf = new Uint32Array(16);
    expect(rasterize(buf, 4, 4, [0, 2], [0, 2], { k: 1, x: 0, y: 0 }, 1, [0, 0], [5], 1, [0, 1])).toBe(1);
    expect(buf[2 * 4 + 2]).toBe(5);
    expect(buf[0]).toBe(0);
  });
});
