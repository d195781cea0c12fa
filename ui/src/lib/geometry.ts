// Coordinate transforms between data (image pixels, embedding coordinates) and the screen.
// A view transform maps a data point p to screen k * p + (x, y) (like d3-zoom's).

export interface Transform {
  k: number;
  x: number;
  y: number;
}

export const IDENTITY: Transform = { k: 1, x: 0, y: 0 };

export function apply(t: Transform, px: number, py: number): [number, number] {
  return [t.k * px + t.x, t.k * py + t.y];
}

export function invert(t: Transform, sx: number, sy: number): [number, number] {
  return [(sx - t.x) / t.k, (sy - t.y) / t.k];
}

/** The transform fitting a w x h content inside a W x H viewport, centered ("contain"). */
export function fitContain(w: number, h: number, W: number, H: number, padding = 0): Transform {
  if (w <= 0 || h <= 0) return IDENTITY;
  const k = Math.min((W - 2 * padding) / w, (H - 2 * padding) / h);
  return { k, x: (W - k * w) / 2, y: (H - k * h) / 2 };
}

/** Zoom by ``factor`` around the screen point (sx, sy), which stays put; k is clamped. */
export function zoomAt(
  t: Transform,
  factor: number,
  sx: number,
  sy: number,
  minK = 1e-3,
  maxK = 1e4,
): Transform {
  const k = Math.min(maxK, Math.max(minK, t.k * factor));
  const [px, py] = invert(t, sx, sy);
  return { k, x: sx - k * px, y: sy - k * py };
}

export function pan(t: Transform, dx: number, dy: number): Transform {
  return { k: t.k, x: t.x + dx, y: t.y + dy };
}

/** Data bounds [minX, minY, maxX, maxY] of points (NaN-free), or null if there are none. */
export function bounds(xs: ArrayLike<number>, ys: ArrayLike<number>): [number, number, number, number] | null {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    const y = ys[i];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return x0 === Infinity ? null : [x0, y0, x1, y1];
}

/** Box corners of an annotation in xyxy pixels to an SVG rect (x, y, width, height). */
export function xyxyToRect(x1: number, y1: number, x2: number, y2: number): [number, number, number, number] {
  return [Math.min(x1, x2), Math.min(y1, y2), Math.abs(x2 - x1), Math.abs(y2 - y1)];
}

/** A flat [x0, y0, x1, y1, ...] part to an SVG points attribute. */
export function flatToPoints(part: number[]): string {
  const out: string[] = [];
  for (let i = 0; i + 1 < part.length; i += 2) out.push(`${part[i]},${part[i + 1]}`);
  return out.join(' ');
}
