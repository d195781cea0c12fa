import { describe, expect, it } from 'vitest';
import { chosenIds, extendPath, flatPolygon, IdList, pointInPolygon, polygonBounds, selectInBox, selectInPolygon, type Point } from './lasso';

const SQUARE: Point[] = [
  [0, 0],
  [10, 0],
  [10, 10],
  [0, 10],
];
// a "U": the notch between x 3..7 above y 3 is outside
const U: Point[] = [
  [0, 0],
  [10, 0],
  [10, 10],
  [7, 10],
  [7, 3],
  [3, 3],
  [3, 10],
  [0, 10],
];

describe('lasso geometry', () => {
  it('tells inside from outside, concave polygons included', () => {
    const square = flatPolygon(SQUARE);
    const u = flatPolygon(U);
    const inSquare = (x: number, y: number) => pointInPolygon(x, y, square.px, square.py);
    const inU = (x: number, y: number) => pointInPolygon(x, y, u.px, u.py);
    expect([...u.px]).toEqual(U.map((p) => p[0]));
    expect([...u.py]).toEqual(U.map((p) => p[1]));
    expect(inSquare(5, 5)).toBe(true);
    expect(inSquare(11, 5)).toBe(false);
    expect(inSquare(-0.1, 5)).toBe(false);
    expect(inU(5, 5)).toBe(false);
    expect(inU(5, 1)).toBe(true);
    expect(inU(1, 9)).toBe(true);
    expect(inU(8.5, 9)).toBe(true);
    expect(polygonBounds(u)).toEqual([0, 0, 10, 10]);
  });

  it('selects the indices of points inside, in order', () => {
    const xs = new Float32Array([5, 5, 1, 8.5, 20, -3]);
    const ys = new Float32Array([5, 1, 9, 9, 20, 4]);
    expect(selectInPolygon(xs, ys, U)).toEqual([1, 2, 3]);
    expect(selectInPolygon(xs, ys, SQUARE)).toEqual([0, 1, 2, 3]);
    expect(selectInPolygon(xs, ys, [[0, 0], [1, 1]])).toEqual([]);
  });

  it('agrees with a brute-force grid count on a triangle', () => {
    const tri: Point[] = [
      [0, 0],
      [100, 0],
      [0, 100],
    ];
    const xs: number[] = [];
    const ys: number[] = [];
    for (let x = 0.5; x < 100; x += 1)
      for (let y = 0.5; y < 100; y += 1) {
        xs.push(x);
        ys.push(y);
      }
    const inside = selectInPolygon(xs, ys, tri);
    expect(inside.length).toBe(xs.filter((x, i) => x + ys[i] < 100).length);
    expect(inside.every((i) => xs[i] + ys[i] < 100)).toBe(true);
  });

  it('selects exactly the points the per-point test accepts (bbox prefilter loses none)', () => {
    const star: Point[] = [];
    for (let k = 0; k < 10; k++) {
      const r = k % 2 === 0 ? 40 : 15;
      const t = (Math.PI * k) / 5;
      star.push([50 + r * Math.cos(t), 50 + r * Math.sin(t)]);
    }
    const { px, py } = flatPolygon(star);
    const xs: number[] = [];
    const ys: number[] = [];
    for (let x = -0.25; x < 101; x += 1.5)
      for (let y = -0.25; y < 101; y += 1.5) {
        xs.push(x);
        ys.push(y);
      }
    const want = xs.map((_, i) => i).filter((i) => pointInPolygon(xs[i], ys[i], px, py));
    expect(want.length).toBeGreaterThan(100);
    expect(want.length).toBeLessThan(xs.length / 2);
    expect(selectInPolygon(xs, ys, star)).toEqual(want);
  });

  it('box selection includes its bounds, corners in any order', () => {
    const xs = [0, 5, 10, 11];
    const ys = [0, 5, 10, 5];
    expect(selectInBox(xs, ys, [10, 10], [0, 0])).toEqual([0, 1, 2]);
  });

  it('drops pointer moves that are too short', () => {
    let path: Point[] = [];
    path = extendPath(path, [0, 0]);
    path = extendPath(path, [1, 0]);
    path = extendPath(path, [3, 0]);
    expect(path).toEqual([
      [0, 0],
      [3, 0],
    ]);
  });

  it('turns chosen indices into ascending ids that stay a plain-looking array', () => {
    const ids = chosenIds(Int32Array.from([40, 10, 30, 20]), [0, 3, 1]);
    expect(ids).toBeInstanceOf(IdList);
    expect(Array.isArray(ids)).toBe(true);
    expect([...ids]).toEqual([10, 20, 40]);
    expect(JSON.stringify({ type: 'ids', ids })).toBe('{"type":"ids","ids":[10,20,40]}');
    expect(chosenIds(new Int32Array(), [])).toHaveLength(0);
    // objects of an object space: their rows, each once
    expect([...chosenIds(Int32Array.from([7, 9, 7, 3, 9]), [0, 1, 2, 4])]).toEqual([7, 9]);
  });
});
