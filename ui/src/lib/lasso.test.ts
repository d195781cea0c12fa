import { describe, expect, it } from 'vitest';
import { chosenIds, extendPath, IdList, pointInPolygon, selectInBox, selectInPolygon, type Point } from './lasso';

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
    expect(pointInPolygon(5, 5, SQUARE)).toBe(true);
    expect(pointInPolygon(11, 5, SQUARE)).toBe(false);
    expect(pointInPolygon(-0.1, 5, SQUARE)).toBe(false);
    expect(pointInPolygon(5, 5, U)).toBe(false);
    expect(pointInPolygon(5, 1, U)).toBe(true);
    expect(pointInPolygon(1, 9, U)).toBe(true);
    expect(pointInPolygon(8.5, 9, U)).toBe(true);
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
