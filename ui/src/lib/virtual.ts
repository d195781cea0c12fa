// Windowing of the gallery grid: only the tiles in (and near) the viewport are rendered.

export interface Window {
  columns: number;
  start: number; // first rendered item
  end: number; // one past the last rendered item
  top: number; // pixel offset of the first rendered row
  height: number; // full scroll height
}

export function columnsFor(width: number, tile: number, gap: number): number {
  return Math.max(1, Math.floor((width + gap) / (tile + gap)));
}

export function visibleWindow(
  scrollTop: number,
  viewport: number,
  width: number,
  total: number,
  tile: number,
  rowHeight: number,
  gap: number,
  overscanRows = 2,
): Window {
  const columns = columnsFor(width, tile, gap);
  const rows = Math.ceil(total / columns);
  const step = rowHeight + gap;
  const first = Math.max(0, Math.floor(scrollTop / step) - overscanRows);
  const last = Math.min(rows, Math.ceil((scrollTop + viewport) / step) + overscanRows);
  return {
    columns,
    start: Math.min(total, first * columns),
    end: Math.min(total, last * columns),
    top: first * step,
    height: Math.max(0, rows * step - gap),
  };
}

/** Indices from ``a`` to ``b`` inclusive in either order (shift-click ranges). */
export function rangeBetween(a: number, b: number): number[] {
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}
