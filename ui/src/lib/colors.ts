// Colors of classes (stable per name) and of per-object results.
import { schemeTableau10, schemeSet3 } from 'd3-scale-chromatic';

const PALETTE = [...schemeTableau10, ...schemeSet3];

export function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

/** A class's color: by its index in ``classes`` when given, else by its name's hash. */
export function classColor(name: string | null | undefined, classes?: readonly string[]): string {
  if (!name) return '#9aa0a6';
  const i = classes ? classes.indexOf(name) : -1;
  return PALETTE[(i >= 0 ? i : hashString(name)) % PALETTE.length];
}

export const RESULT_COLORS: Record<string, string> = {
  TP: '#2ca02c',
  FP: '#d62728',
  FN: '#ff7f0e',
  'FP+FN': '#9467bd',
  ignored: '#9aa0a6',
  none: '#9aa0a6',
};

export function resultColor(status: string | null | undefined): string {
  return RESULT_COLORS[status ?? 'none'] ?? RESULT_COLORS.none;
}
