import { describe, expect, it } from 'vitest';
import { codesOf, colorGroups, decodePointsWithCodes, metricPointsWithCodes, type PointCodes } from './pointcodes';

/** A body as the server writes it (little-endian; the tests run on little-endian hosts). */
function body(rows: [number, number, number, number, number, number][], classes: string[]): ArrayBuffer {
  const n = rows.length;
  const names = new TextEncoder().encode(JSON.stringify(classes));
  const buf = new ArrayBuffer(21 * n + names.length);
  const v = new DataView(buf);
  rows.forEach(([id, x, y, gt, pred, result], i) => {
    v.setBigInt64(8 * i, BigInt(id), true);
    v.setFloat32(8 * n + 4 * i, x, true);
    v.setFloat32(12 * n + 4 * i, y, true);
    v.setInt16(16 * n + 2 * i, gt, true);
    v.setInt16(18 * n + 2 * i, pred, true);
    v.setUint8(20 * n + i, result);
  });
  new Uint8Array(buf, 21 * n).set(names);
  return buf;
}

const CLASSES = ['cat', 'dog', 'é-person'];

describe('point codes', () => {
  it('decodes ids, coordinates, class codes, result codes and class names', () => {
    const rows: [number, number, number, number, number, number][] = [
      [3, 0.5, 0.25, 0, 1, 1],
      [9, Number.NaN, 0.75, -1, -1, 0],
      [2 ** 40, 1, 2, 2, 0, 4],
    ];
    const c = decodePointsWithCodes(body(rows, CLASSES), 3);
    expect([...c.ids]).toEqual([3, 9, 2 ** 40]);
    expect([...c.xs]).toEqual([0.5, Number.NaN, 1]);
    expect([...c.ys]).toEqual([0.25, 0.75, 2]);
    expect(c.codes.classes).toEqual(CLASSES);
    expect([...c.codes.gt]).toEqual([0, -1, 2]);
    expect([...c.codes.pred]).toEqual([1, -1, 0]);
    expect([...c.codes.result]).toEqual([1, 0, 4]);
    expect(decodePointsWithCodes(body([], []), 0).ids.length).toBe(0);
    expect(() => decodePointsWithCodes(new ArrayBuffer(10), 3)).toThrow(/10 bytes for 3 rows/);
  });

  it('keeps the codes aligned when rows without a coordinate are left out', () => {
    const rows: [number, number, number, number, number, number][] = [
      [1, 0, 0, 0, 0, 1],
      [2, Number.NaN, 1, 1, 1, 2],
      [3, 1, Number.NaN, 2, 2, 3],
      [4, 2, 2, 2, -1, 4],
    ];
    const { points, codes } = metricPointsWithCodes(body(rows, CLASSES), 4);
    expect([...points.ids]).toEqual([1, 4]);
    expect([...points.xs]).toEqual([0, 2]);
    expect([...codes.gt]).toEqual([0, 2]);
    expect([...codes.pred]).toEqual([0, -1]);
    expect([...codes.result]).toEqual([1, 4]);
  });

  it('joins codes to points of another order, unknown ids as none', () => {
    const rows: PointCodes = {
      classes: CLASSES,
      gt: Int16Array.from([0, 1, 2]),
      pred: Int16Array.from([2, 1, 0]),
      result: Uint8Array.from([1, 2, 3]),
    };
    const got = codesOf(Int32Array.from([30, 5, 10, 20]), Float64Array.from([10, 20, 30]), rows);
    expect([...got.gt]).toEqual([2, -1, 0, 1]);
    expect([...got.pred]).toEqual([0, -1, 2, 1]);
    expect([...got.result]).toEqual([3, 0, 1, 2]);
  });

  it('groups points by class or result in one pass, with legend counts', () => {
    const codes: PointCodes = {
      classes: CLASSES,
      gt: Int16Array.from([1, 1, 0, -1, 1, 0]),
      pred: Int16Array.from([-1, -1, -1, -1, 2, 0]),
      result: Uint8Array.from([1, 1, 2, 0, 4, 3]),
    };
    const color = (name: string) => `c:${name}`;
    const res = (code: string) => `r:${code}`;
    const gt = colorGroups(codes, 'gt', color, res);
    expect([...gt.index]).toEqual([2, 2, 1, 0, 2, 1]);
    expect(gt.palette).toEqual(['#9aa0a6', 'c:cat', 'c:dog', 'c:é-person']);
    expect(gt.legend.map((l) => [l.label, l.count, l.color])).toEqual([
      ['dog', 3, 'c:dog'],
      ['cat', 2, 'c:cat'],
      ['none', 1, '#9aa0a6'],
    ]);
    const pred = colorGroups(codes, 'pred', color, res);
    expect(pred.legend.map((l) => [l.label, l.count])).toEqual([
      ['cat', 1],
      ['é-person', 1],
      ['none', 4],
    ]);
    const result = colorGroups(codes, 'result', color, res);
    expect([...result.index]).toEqual([1, 1, 2, 0, 4, 3]);
    expect(result.palette).toEqual(['#9aa0a6', 'r:TP', 'r:FP', 'r:FN', 'r:FP+FN']);
    expect(result.legend.map((l) => [l.label, l.count])).toEqual([
      ['all TP', 2],
      ['FN, no FP', 1],
      ['FP and FN', 1],
      ['FP, no FN', 1],
      ['no objects', 1],
    ]);
  });
});
