// What the overlays draw: each annotation of a row as a shape with its color and label.
import { classColor, resultColor } from './colors';
import { flatToPoints, xyxyToRect } from './geometry';
import { decodeMask } from './rle';
import type { Annotation } from './types';

export type Side = 'gt' | 'pred';

export interface Shape {
  key: string;
  side: Side;
  ann: Annotation;
  color: string;
  kind: 'rect' | 'polygon' | 'polyline' | 'point' | 'mask' | 'none';
  rect?: [number, number, number, number];
  points?: string[];
  pts?: [number, number][];
}

export function status(a: Annotation): string {
  return a.evaluation?.status ?? 'none';
}

/** The color of an object: by its class, its result (TP/FP/FN) or its error type. */
export function colorOf(a: Annotation, colorBy: 'class' | 'result' | 'error', classes: string[]): string {
  if (colorBy === 'result') return resultColor(status(a));
  if (colorBy === 'error') {
    const e = a.evaluation;
    if (!e || e.status === 'TP' || e.status === 'ignored' || !e.error_type) return resultColor(e?.status);
    return ERROR_COLORS[e.error_type] ?? classColor(e.error_type);
  }
  return classColor(a.class_name, classes);
}

/** Error types (core/matching, core/textmetrics) each with its own color. */
export const ERROR_COLORS: Record<string, string> = {
  classification: '#9467bd',
  localisation: '#e377c2',
  wrong_type: '#9467bd',
  boundary: '#e377c2',
  wrong_type_and_boundary: '#8c564b',
  spurious: '#d62728',
  both: '#8c564b',
  duplicate: '#bcbd22',
  background: '#d62728',
  missed: '#ff7f0e',
};

export function shapeOf(a: Annotation, side: Side, colorBy: 'class' | 'result' | 'error', classes: string[]): Shape {
  const color = colorOf(a, colorBy, classes);
  const base = { key: `${side}-${a.id}`, side, ann: a, color };
  const kind = a.kind.toLowerCase();
  if (kind === 'mask' && a.rle_counts && a.rle_h && a.rle_w) return { ...base, kind: 'mask' };
  if ((kind === 'polygon' || kind === 'segmentation') && a.coords) {
    return { ...base, kind: 'polygon', points: a.coords.map(flatToPoints) };
  }
  if ((kind === 'polyline' || kind === 'line') && a.coords) {
    return { ...base, kind: 'polyline', points: a.coords.map(flatToPoints) };
  }
  if (kind === 'point' && a.coords) {
    const pts: [number, number][] = [];
    for (const part of a.coords) for (let i = 0; i + 1 < part.length; i += 2) pts.push([part[i], part[i + 1]]);
    return { ...base, kind: 'point', pts };
  }
  if (a.x1 !== undefined && a.y1 !== undefined && a.x2 !== undefined && a.y2 !== undefined) {
    return { ...base, kind: 'rect', rect: xyxyToRect(a.x1, a.y1, a.x2, a.y2) };
  }
  return { ...base, kind: 'none' };
}

/** A data: URL of a mask tinted with ``color`` (browser only; cached). */
const maskCache = new Map<string, string>();
export function maskUrl(a: Annotation, color: string): string {
  const key = `${a.id}|${a.rle_counts}|${color}`;
  const found = maskCache.get(key);
  if (found) return found;
  const h = a.rle_h as number;
  const w = a.rle_w as number;
  const bits = decodeMask(a.rle_counts as string, h, w);
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  const img = ctx.createImageData(w, h);
  const r = parseInt(color.slice(1, 3), 16);
  const g = parseInt(color.slice(3, 5), 16);
  const b = parseInt(color.slice(5, 7), 16);
  for (let i = 0; i < bits.length; i++) {
    if (!bits[i]) continue;
    img.data[4 * i] = r;
    img.data[4 * i + 1] = g;
    img.data[4 * i + 2] = b;
    img.data[4 * i + 3] = 110;
  }
  ctx.putImageData(img, 0, 0);
  const url = canvas.toDataURL();
  maskCache.set(key, url);
  return url;
}

/** One line describing an object (hover text): class, side, confidence, IoU, result. */
export function describeObject(a: Annotation, side: Side): string {
  const parts = [`${side === 'gt' ? 'GT' : 'pred'} ${a.class_name}`];
  if (a.confidence !== undefined && side === 'pred') parts.push(`conf ${a.confidence.toFixed(3)}`);
  const e = a.evaluation;
  if (e) {
    parts.push(e.status);
    if (e.iou !== null && e.iou !== undefined) parts.push(`IoU ${e.iou.toFixed(3)}`);
    if (e.error_type) parts.push(e.error_type);
  }
  return parts.join(' · ');
}
