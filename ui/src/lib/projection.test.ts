import { describe, expect, it } from 'vitest';
import { decodeColumns, decodeProjection, joinMetrics, parseProjection, parseSpaces, rowSpaces, toWorld, withCoordinates } from './projection';

describe('projector points', () => {
  it('reads the projection shapes the API may answer', () => {
    const want = { ids: [1, 2], xs: [0.5, 1], ys: [2, 3] };
    const shapes = [
      { ids: [1, 2], x: [0.5, 1], y: [2, 3] },
      { columns: { data_row_id: [1, 2], x: [0.5, 1], y: [2, 3] } },
      { points: [{ id: 1, x: 0.5, y: 2 }, { data_row_id: 2, x: 1, y: 3 }] },
      { ids: [1, 2], coords: [[0.5, 2], [1, 3]] },
    ];
    for (const s of shapes) {
      const p = parseProjection(s);
      expect(p && { ids: [...p.ids], xs: [...p.xs], ys: [...p.ys] }).toEqual(want);
    }
    expect(parseProjection({ ids: [1], x: [1, 2], y: [1] })).toBeNull();
  });

  it('decodes the binary projection: int64 ids, then float32 (x, y) pairs', () => {
    const n = 3;
    const buf = new ArrayBuffer(16 * n);
    const view = new DataView(buf);
    [7, 8, 123456].forEach((id, i) => view.setBigInt64(8 * i, BigInt(id), true));
    [[0.5, -1], [2, 3.25], [-4, 0]].forEach(([x, y], i) => {
      view.setFloat32(8 * n + 8 * i, x, true);
      view.setFloat32(8 * n + 8 * i + 4, y, true);
    });
    const p = decodeProjection(buf);
    expect([...p.ids]).toEqual([7, 8, 123456]);
    expect([...p.xs]).toEqual([0.5, 2, -4]);
    expect([...p.ys]).toEqual([-1, 3.25, 0]);
    expect(p.rows).toBeUndefined();
    expect(() => decodeProjection(new ArrayBuffer(10))).toThrow(/not n x 16/);
  });

  it('decodes an object space projection: object ids, (x, y) pairs, then row ids', () => {
    const objects = [101, 102, 103, 123456];
    const rows = [7, 7, 9, 7];
    const xy = [[0.5, -1], [2, 3.25], [-4, 0], [1, 1]];
    const n = objects.length;
    const buf = new ArrayBuffer(24 * n);
    const view = new DataView(buf);
    objects.forEach((id, i) => view.setBigInt64(8 * i, BigInt(id), true));
    xy.forEach(([x, y], i) => {
      view.setFloat32(8 * n + 8 * i, x, true);
      view.setFloat32(8 * n + 8 * i + 4, y, true);
    });
    rows.forEach((id, i) => view.setBigInt64(16 * n + 8 * i, BigInt(id), true));
    const p = decodeProjection(buf, 'object');
    expect([...p.ids]).toEqual(objects);
    expect([...p.xs]).toEqual([0.5, 2, -4, 1]);
    expect([...p.ys]).toEqual([-1, 3.25, 0, 1]);
    expect([...(p.rows ?? [])]).toEqual(rows);
    // 4 objects (96 bytes) would be 6 rows: the level decides, not the length
    expect(decodeProjection(buf, 'row').ids.length).toBe(6);
    expect(decodeProjection(new ArrayBuffer(0), 'object').ids.length).toBe(0);
  });

  it('rejects a projection whose length fits no whole number of points', () => {
    expect(() => decodeProjection(new ArrayBuffer(16), 'object')).toThrow(/object projection of 16 bytes is not n x 24/);
    expect(() => decodeProjection(new ArrayBuffer(40), 'row')).toThrow(/row projection of 40 bytes is not n x 16/);
  });

  it('decodes metric point columns: int64 ids, float32 xs, float32 ys, NaN kept', () => {
    const rows: [number, number, number][] = [
      [3, 0.5, 0.25],
      [9, Number.NaN, 0.75],
      [11, 1, Number.NaN],
      [2 ** 40, 0, 1],
    ];
    const n = rows.length;
    const buf = new ArrayBuffer(16 * n);
    const view = new DataView(buf);
    rows.forEach(([id, x, y], i) => {
      view.setBigInt64(8 * i, BigInt(id), true);
      view.setFloat32(8 * n + 4 * i, x, true);
      view.setFloat32(12 * n + 4 * i, y, true);
    });
    const c = decodeColumns(buf);
    expect([...c.ids]).toEqual([3, 9, 11, 2 ** 40]);
    expect([...c.xs]).toEqual([0.5, Number.NaN, 1, 0]);
    expect([...c.ys]).toEqual([0.25, 0.75, Number.NaN, 1]);
    expect([...withCoordinates(c.xs, c.ys)]).toEqual([0, 3]);
    expect(decodeColumns(new ArrayBuffer(0)).ids.length).toBe(0);
    expect(() => decodeColumns(new ArrayBuffer(20))).toThrow(/not n x 16/);
  });

  it('keeps the positions of rows with both coordinates', () => {
    const nan = Number.NaN;
    const xs = Float32Array.from([nan, 1, 2, nan, 0, -1]);
    const ys = Float32Array.from([0, nan, 2, nan, 0, Infinity]);
    expect([...withCoordinates(xs, ys)]).toEqual([2, 4, 5]);
    expect(withCoordinates(new Float32Array(), new Float32Array()).length).toBe(0);
  });

  it('lists spaces with their level', () => {
    const spaces = parseSpaces({
      spaces: [
        { name: 'clip', level: 'row', objects: null, run: null, dim: 512 },
        { name: 'crops', level: 'object', objects: 'predictions', run: 'det' },
        { name: 'dino' },
      ],
    });
    expect(spaces).toEqual([
      { name: 'clip', level: 'row', objects: null, run: null },
      { name: 'crops', level: 'object', objects: 'predictions', run: 'det' },
      { name: 'dino', level: 'row', objects: null, run: null },
    ]);
    expect(rowSpaces(spaces)).toEqual(['clip', 'dino']);
    expect(parseSpaces(['a'])).toEqual([{ name: 'a', level: 'row', objects: null, run: null }]);
    expect(parseSpaces({})).toEqual([]);
    expect(rowSpaces(parseSpaces({ spaces: [{ name: 'o', level: 'object', objects: 'gt' }] }))).toEqual([]);
  });

  it('joins two metrics by row, leaving out missing values', () => {
    const p = joinMetrics(
      [
        { id: 1, sort_value: 0.1 },
        { id: 2, sort_value: null },
        { id: 3, sort_value: 0.3 },
      ],
      [
        { id: 3, sort_value: 0.9 },
        { id: 1, sort_value: 0.5 },
        { id: 2, sort_value: 0.7 },
      ],
    );
    expect([...p.ids]).toEqual([1, 3]);
    expect([...p.ys]).toEqual([0.5, 0.9].map(Math.fround));
  });

  it('world coordinates flip y and start at 0', () => {
    const w = toWorld({ ids: Int32Array.from([1, 2]), xs: Float32Array.from([2, 4]), ys: Float32Array.from([1, 5]) });
    expect([...w.wx]).toEqual([0, 2]);
    expect([...w.wy]).toEqual([4, 0]);
    expect([w.w, w.h]).toEqual([2, 4]);
  });
});
