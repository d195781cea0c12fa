// Points of the projector: ids with 2-D coordinates, from an embedding space's projection
// (GET /api/embeddings/{space}/projection, read tolerantly) or from two row metrics.

export interface Points {
  /** Data row ids, or in an object space object ids. */
  ids: Int32Array;
  xs: Float32Array;
  ys: Float32Array;
  /** In an object space: the data row id of each point (object). */
  rows?: Int32Array;
}

export type SpaceLevel = 'row' | 'object';

/** An embedding space of GET /api/embeddings: a vector per data row, or per object
 * (``objects``: ``gt`` or ``predictions`` of ``run``). */
export interface SpaceInfo {
  name: string;
  level: SpaceLevel;
  objects: string | null;
  run: string | null;
}

type Json = Record<string, unknown>;

function arr(v: unknown): unknown[] | null {
  return Array.isArray(v) ? v : null;
}

/** Points from a projection answer: {ids, x, y}, {columns: {data_row_id|id, x, y}},
 * {points: [{id|data_row_id, x, y}]} or {ids, coords: [[x, y], ...]}; null if none fits. */
export function parseProjection(body: Json): Points | null {
  const cols = (typeof body.columns === 'object' && body.columns !== null ? body.columns : body) as Json;
  const ids = arr(cols.ids) ?? arr(cols.data_row_id) ?? arr(cols.id) ?? arr(cols.data_row_ids);
  let xs = arr(cols.x);
  let ys = arr(cols.y);
  const coords = arr(cols.coords) ?? arr(cols.xy);
  if (ids && !xs && coords) {
    xs = coords.map((c) => (c as number[])[0]);
    ys = coords.map((c) => (c as number[])[1]);
  }
  if (ids && xs && ys && ids.length === xs.length && xs.length === ys.length) {
    return { ids: Int32Array.from(ids as number[]), xs: Float32Array.from(xs as number[]), ys: Float32Array.from(ys as number[]) };
  }
  const points = arr(body.points);
  if (points) {
    const p = points as Json[];
    return {
      ids: Int32Array.from(p.map((q) => Number(q.id ?? q.data_row_id))),
      xs: Float32Array.from(p.map((q) => Number(q.x))),
      ys: Float32Array.from(p.map((q) => Number(q.y))),
    };
  }
  return null;
}

/** Points from the binary projection (GET /api/embeddings/{space}/projection): ``n``
 * little-endian int64 ids, then ``n`` float32 (x, y) pairs; of an object space
 * (``X-Level: object``) the ids are object ids, followed by ``n`` int64 data row ids. */
export function decodeProjection(buf: ArrayBuffer, level: SpaceLevel = 'row'): Points {
  const per = level === 'object' ? 24 : 16;
  if (buf.byteLength % per !== 0) {
    throw new Error(`${level} projection of ${buf.byteLength} bytes is not n x ${per}`);
  }
  const n = buf.byteLength / per;
  const view = new DataView(buf);
  const ids = new Int32Array(n);
  const xs = new Float32Array(n);
  const ys = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    ids[i] = Number(view.getBigInt64(8 * i, true));
    xs[i] = view.getFloat32(8 * n + 8 * i, true);
    ys[i] = view.getFloat32(8 * n + 8 * i + 4, true);
  }
  if (level === 'row') return { ids, xs, ys };
  const rows = new Int32Array(n);
  for (let i = 0; i < n; i++) rows[i] = Number(view.getBigInt64(16 * n + 8 * i, true));
  return { ids, xs, ys, rows };
}

/** The leading columns of GET /api/runs/{run}/points: n int64 ids, then n float32 x, then
 * n float32 y, little-endian (NaN: no value). */
export function decodeColumns(buf: ArrayBuffer): { ids: Float64Array; xs: Float32Array; ys: Float32Array } {
  if (buf.byteLength % 16 !== 0) throw new Error(`metric points of ${buf.byteLength} bytes is not n x 16`);
  const n = buf.byteLength / 16;
  const view = new DataView(buf);
  const ids = new Float64Array(n);
  for (let i = 0; i < n; i++) ids[i] = Number(view.getBigInt64(8 * i, true));
  return { ids, xs: new Float32Array(buf.slice(8 * n, 12 * n)), ys: new Float32Array(buf.slice(12 * n)) };
}

/** The positions of the rows that have both coordinates (neither is NaN), ascending. */
export function withCoordinates(xs: Float32Array, ys: Float32Array): Int32Array {
  const keep = new Int32Array(xs.length);
  let k = 0;
  for (let i = 0; i < xs.length; i++) if (!Number.isNaN(xs[i]) && !Number.isNaN(ys[i])) keep[k++] = i;
  return keep.subarray(0, k);
}

/** The embedding spaces of a GET /api/embeddings answer (a bare name: a row space). */
export function parseSpaces(body: unknown): SpaceInfo[] {
  const list = Array.isArray(body)
    ? body
    : (arr((body as Json)?.spaces) ?? arr((body as Json)?.embeddings) ?? []);
  const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
  return list
    .map((s): SpaceInfo => {
      if (typeof s === 'string') return { name: s, level: 'row', objects: null, run: null };
      const o = (s ?? {}) as Json;
      return {
        name: String(o.name ?? ''),
        level: o.level === 'object' ? 'object' : 'row',
        objects: str(o.objects),
        run: str(o.run),
      };
    })
    .filter((s) => s.name.length > 0);
}

/** The names of the row-level spaces (the ones "find similar" takes row anchors in). */
export function rowSpaces(spaces: readonly SpaceInfo[]): string[] {
  return spaces.filter((s) => s.level === 'row').map((s) => s.name);
}

/** Points whose coordinates are two metrics of the same rows (rows missing either are left out). */
export function joinMetrics(
  a: { id: number; sort_value: number | null }[],
  b: { id: number; sort_value: number | null }[],
): Points {
  const bv = new Map(b.map((r) => [r.id, r.sort_value]));
  const ids: number[] = [];
  const xs: number[] = [];
  const ys: number[] = [];
  for (const r of a) {
    const y = bv.get(r.id);
    if (r.sort_value === null || y === null || y === undefined) continue;
    ids.push(r.id);
    xs.push(r.sort_value);
    ys.push(y);
  }
  return { ids: Int32Array.from(ids), xs: Float32Array.from(xs), ys: Float32Array.from(ys) };
}

/** World coordinates: x - minX and maxY - y (y up on screen), plus the world's size. */
export function toWorld(p: Points): { wx: Float32Array; wy: Float32Array; w: number; h: number } {
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (let i = 0; i < p.xs.length; i++) {
    x0 = Math.min(x0, p.xs[i]);
    x1 = Math.max(x1, p.xs[i]);
    y0 = Math.min(y0, p.ys[i]);
    y1 = Math.max(y1, p.ys[i]);
  }
  if (!Number.isFinite(x0)) return { wx: new Float32Array(), wy: new Float32Array(), w: 1, h: 1 };
  const wx = new Float32Array(p.xs.length);
  const wy = new Float32Array(p.xs.length);
  for (let i = 0; i < p.xs.length; i++) {
    wx[i] = p.xs[i] - x0;
    wy[i] = y1 - p.ys[i];
  }
  return { wx, wy, w: Math.max(x1 - x0, 1e-9), h: Math.max(y1 - y0, 1e-9) };
}
