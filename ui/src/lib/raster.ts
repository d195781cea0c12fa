// Points drawn straight into an RGBA pixel buffer (one putImageData for 100k points,
// instead of 100k fillRect calls).
import type { Transform } from './geometry';

/** A "#rrggbb" color as a little-endian RGBA pixel (0xAABBGGRR), mixed with white by ``fade``. */
export function pixel(color: string, fade = 0): number {
  const c = (i: number) => parseInt(color.slice(i, i + 2), 16);
  const mix = (v: number) => Math.round(v + (255 - v) * fade);
  return ((255 << 24) | (mix(c(5)) << 16) | (mix(c(3)) << 8) | mix(c(1))) >>> 0;
}

/** Draw each point i (where ``only`` is null or only[i] is 1) as a ``size`` x ``size``
 * square of ``palette[groups[i]]`` centred at ``scale * (t.k * wx[i] + t.x)`` (and y),
 * clipped to the ``w`` x ``h`` buffer. Returns how many points were drawn. */
export function rasterize(
  buf: Uint32Array,
  w: number,
  h: number,
  wx: ArrayLike<number>,
  wy: ArrayLike<number>,
  t: Transform,
  scale: number,
  groups: ArrayLike<number>,
  palette: readonly number[],
  size: number,
  only: ArrayLike<number> | null = null,
): number {
  const half = Math.floor(size / 2);
  let drawn = 0;
  for (let i = 0; i < wx.length; i++) {
    if (only && !only[i]) continue;
    const cx = Math.round(scale * (t.k * wx[i] + t.x)) - half;
    const cy = Math.round(scale * (t.k * wy[i] + t.y)) - half;
    if (cx >= w || cy >= h || cx + size <= 0 || cy + size <= 0) continue;
    const color = palette[groups[i] ?? 0] ?? palette[0];
    const x0 = Math.max(0, cx);
    const x1 = Math.min(w, cx + size);
    const y1 = Math.min(h, cy + size);
    for (let y = Math.max(0, cy); y < y1; y++) {
      const row = y * w;
      for (let x = x0; x < x1; x++) buf[row + x] = color;
    }
    drawn++;
  }
  return drawn;
}
