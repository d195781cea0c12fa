// Lasso and box selection over 2-D points (screen or data coordinates), pure and typed.
export type Point = [number, number];

/** A polygon's vertices as flat typed arrays (closed implicitly). */
export interface FlatPolygon {
  px: Float64Array;
  py: Float64Array;
}

export function flatPolygon(poly: readonly Point[]): FlatPolygon {
  const px = new Float64Array(poly.length);
  const py = new Float64Array(poly.length);
  for (let i = 0; i < poly.length; i++) {
    px[i] = poly[i][0];
    py[i] = poly[i][1];
  }
  return { px, py };
}

/** Is (x, y) inside the polygon (even-odd rule)? No allocation: run once per point. */
export function pointInPolygon(x: number, y: number, px: Float64Array, py: Float64Array): boolean {
  const m = px.length;
  let inside = false;
  for (let a = 0, b = m - 1; a < m; b = a++) {
    const ya = py[a];
    const yb = py[b];
    if (ya > y !== yb > y && x < ((px[b] - px[a]) * (y - ya)) / (yb - ya) + px[a]) inside = !inside;
  }
  return inside;
}

/** The bounding box [x0, y0, x1, y1] of a flat polygon. */
export function polygonBounds({ px, py }: FlatPolygon): [number, number, number, number] {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let i = 0; i < px.length; i++) {
    x0 = Math.min(x0, px[i]);
    y0 = Math.min(y0, py[i]);
    x1 = Math.max(x1, px[i]);
    y1 = Math.max(y1, py[i]);
  }
  return [x0, y0, x1, y1];
}

/** Indices of the points inside the lasso (a polygon of at least 3 vertices): points
 * outside its bounding box are skipped with four compares, the rest run
 * :func:`pointInPolygon` against the polygon held in flat typed arrays. */
export function selectInPolygon(xs: ArrayLike<number>, ys: ArrayLike<number>, poly: readonly Point[]): number[] {
  if (poly.length < 3) return [];
  const flat = flatPolygon(poly);
  const { px, py } = flat;
  const [x0, y0, x1, y1] = polygonBounds(flat);
  const out: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    const y = ys[i];
    if (x < x0 || x > x1 || y < y0 || y > y1) continue;
    if (pointInPolygon(x, y, px, py)) out.push(i);
  }
  return out;
}

/** Indices of the points inside the box spanned by two corners (bounds included). */
export function selectInBox(xs: ArrayLike<number>, ys: ArrayLike<number>, a: Point, b: Point): number[] {
  const x0 = Math.min(a[0], b[0]);
  const x1 = Math.max(a[0], b[0]);
  const y0 = Math.min(a[1], b[1]);
  const y1 = Math.max(a[1], b[1]);
  const out: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    if (xs[i] >= x0 && xs[i] <= x1 && ys[i] >= y0 && ys[i] <= y1) out.push(i);
  }
  return out;
}

/** Append a pointer position to a lasso path unless it is closer than ``minDist`` to the last. */
export function extendPath(path: Point[], p: Point, minDist = 2): Point[] {
  const last = path[path.length - 1];
  if (last && Math.hypot(p[0] - last[0], p[1] - last[1]) < minDist) return path;
  return [...path, p];
}

/** An id list the app's deep ``$state`` leaves alone: Svelte proxies only plain arrays,
 * and a proxied 10k-id selection costs a signal per id on first read. Still an array
 * (JSON, spread, length) for everything else. */
export class IdList extends Array<number> {}

/** The ``ids`` of points ``chosen`` (indices), ascending and each once (the objects of an
 * object space share their row's id), as an :class:`IdList`. */
export function chosenIds(ids: ArrayLike<number>, chosen: readonly number[]): number[] {
  const sorted = new Float64Array(chosen.length);
  for (let j = 0; j < chosen.length; j++) sorted[j] = ids[chosen[j]];
  sorted.sort();
  let k = 0;
  for (let j = 0; j < sorted.length; j++) if (j === 0 || sorted[j] !== sorted[j - 1]) sorted[k++] = sorted[j];
  const out = new IdList();
  out.length = k;
  for (let j = 0; j < k; j++) out[j] = sorted[j];
  return out;
}
