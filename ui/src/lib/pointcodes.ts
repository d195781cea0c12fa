// The projector's color codes, from one GET /api/runs/{run}/points?classes=true: per row
// its dominant ground-truth and predicted class codes and its result code (pure, typed).
import { decodeColumns, withCoordinates, type Points } from './projection';

export interface PointCodes {
  /** The class names the codes index (sorted by name). */
  classes: string[];
  /** Dominant ground-truth class code per point, -1: no label. */
  gt: Int16Array;
  /** Dominant predicted class code per point, -1: no prediction. */
  pred: Int16Array;
  /** Result code per point, an index into RESULTS. */
  result: Uint8Array;
}

/** Result codes of the server (errorscope.core.pointcodes.RESULTS), with legend labels. */
export const RESULTS = [
  { code: 'none', label: 'no objects' },
  { code: 'TP', label: 'all TP' },
  { code: 'FP', label: 'FP, no FN' },
  { code: 'FN', label: 'FN, no FP' },
  { code: 'FP+FN', label: 'FP and FN' },
] as const;

/** The body of GET /api/runs/{run}/points?classes=true for ``n`` rows (the X-Points
 * header): n int64 ids, n float32 x, n float32 y, n int16 gt codes, n int16 predicted
 * codes, n uint8 result codes, then the class names as a JSON array. */
export function decodePointsWithCodes(
  buf: ArrayBuffer,
  n: number,
): { ids: Float64Array; xs: Float32Array; ys: Float32Array; codes: PointCodes } {
  if (!Number.isInteger(n) || n < 0 || buf.byteLength < 21 * n + 2) {
    throw new Error(`points with codes: ${buf.byteLength} bytes for ${n} rows`);
  }
  const classes = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 21 * n))) as unknown;
  if (!Array.isArray(classes) || !classes.every((c) => typeof c === 'string')) {
    throw new Error('points with codes: the class names are not a list of strings');
  }
  return {
    ...decodeColumns(buf.slice(0, 16 * n)),
    codes: {
      classes,
      gt: new Int16Array(buf.slice(16 * n, 18 * n)),
      pred: new Int16Array(buf.slice(18 * n, 20 * n)),
      result: new Uint8Array(buf.slice(20 * n, 21 * n)),
    },
  };
}

/** Points (rows with both coordinates; NaN left out) and their codes, aligned. */
export function metricPointsWithCodes(buf: ArrayBuffer, n: number): { points: Points; codes: PointCodes } {
  const c = decodePointsWithCodes(buf, n);
  const at = withCoordinates(c.xs, c.ys);
  const k = at.length;
  const pick = <T extends Int32Array | Float32Array | Int16Array | Uint8Array>(src: ArrayLike<number>, out: T): T => {
    for (let j = 0; j < k; j++) out[j] = src[at[j]];
    return out;
  };
  return {
    points: { ids: pick(c.ids, new Int32Array(k)), xs: pick(c.xs, new Float32Array(k)), ys: pick(c.ys, new Float32Array(k)) },
    codes: {
      classes: c.codes.classes,
      gt: pick(c.codes.gt, new Int16Array(k)),
      pred: pick(c.codes.pred, new Int16Array(k)),
      result: pick(c.codes.result, new Uint8Array(k)),
    },
  };
}

/** The codes of points with ids ``ids`` (any order) from the codes of rows ``rowIds``
 * (ascending, as the server answers); points that are no row get -1, -1 and 0. */
export function codesOf(ids: ArrayLike<number>, rowIds: Float64Array, codes: PointCodes): PointCodes {
  const n = ids.length;
  const out: PointCodes = {
    classes: codes.classes,
    gt: new Int16Array(n).fill(-1),
    pred: new Int16Array(n).fill(-1),
    result: new Uint8Array(n),
  };
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    let lo = 0;
    let hi = rowIds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (rowIds[mid] < id) lo = mid + 1;
      else hi = mid;
    }
    if (lo < rowIds.length && rowIds[lo] === id) {
      out.gt[i] = codes.gt[lo];
      out.pred[i] = codes.pred[lo];
      out.result[i] = codes.result[lo];
    }
  }
  return out;
}

export interface ColorGroup {
  label: string;
  color: string;
  count: number;
}

/** Per point its color group (0: none, g + 1: ``groups[g]``) and the groups with their
 * counts, for coloring by ground-truth class, predicted class or result: one pass. */
export function colorGroups(
  codes: PointCodes,
  by: 'gt' | 'pred' | 'result',
  classColor: (name: string) => string,
  resultColor: (code: string) => string,
  noneColor = '#9aa0a6',
): { index: Uint16Array; palette: string[]; legend: ColorGroup[] } {
  const n = codes.result.length;
  const index = new Uint16Array(n);
  let names: string[];
  let colors: string[];
  if (by === 'result') {
    // result code 0 (no evaluated object) is the "none" group
    names = RESULTS.slice(1).map((r) => r.label);
    colors = RESULTS.slice(1).map((r) => resultColor(r.code));
    index.set(codes.result);
  } else {
    names = codes.classes;
    colors = names.map(classColor);
    const src = by === 'gt' ? codes.gt : codes.pred;
    for (let i = 0; i < n; i++) index[i] = src[i] + 1;
  }
  const counts = new Float64Array(names.length + 1);
  for (let i = 0; i < n; i++) counts[index[i]]++;
  const legend: ColorGroup[] = names
    .map((label, g) => ({ label, color: colors[g], count: counts[g + 1] }))
    .filter((g) => g.count > 0)
    .sort((a, b) => b.count - a.count || (a.label < b.label ? -1 : 1));
  const none = by === 'result' ? RESULTS[0].label : 'none';
  if (counts[0] > 0) legend.push({ label: none, color: noneColor, count: counts[0] });
  return { index, palette: [noneColor, ...colors], legend };
}
