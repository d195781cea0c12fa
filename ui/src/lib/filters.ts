// The view state's filter bar turned into one filter of the query language (pure).
import type { Filter } from './types';

export const METRICS = [
  'iou',
  'precision',
  'recall',
  'f1',
  'mean_confidence',
  'tp',
  'fp',
  'fn',
  'max_fp_confidence',
  'mislabel_score',
] as const;
export type Metric = (typeof METRICS)[number];
export const RATIO_METRICS: readonly string[] = [
  'iou',
  'precision',
  'recall',
  'f1',
  'mean_confidence',
  'max_fp_confidence',
  'mislabel_score',
];
/** The class-filter value that stands for "no annotation / prediction at all". */
export const NONE = '__none__';

export interface MetaCondition {
  name: string;
  op: 'equals' | 'prefix' | 'range';
  value: string;
}

export interface FilterState {
  split: string; // 'all' or a split name
  gt: string[]; // classes (any of), or NONE
  pred: string[];
  ranges: Record<string, [number | null, number | null]>;
  meta: MetaCondition[];
  text: string;
  slice: string | null;
  /** A click-through filter (metrics bar/cell) or a selection (ids), ANDed with the rest. */
  extra: Filter | null;
}

function classFilter(side: 'label' | 'prediction', classes: string[]): Filter | null {
  const parts: Filter[] = classes.map((c) =>
    c === NONE
      ? { type: 'class', side, class_name: null, present: false }
      : { type: 'class', side, class_name: c },
  );
  if (parts.length === 0) return null;
  return parts.length === 1 ? parts[0] : { type: 'or', filters: parts };
}

export function metaFilter(m: MetaCondition): Filter | null {
  if (!m.name) return null;
  if (m.op === 'equals') return { type: 'metadata', name: m.name, equals: m.value };
  if (m.op === 'prefix') return { type: 'metadata', name: m.name, prefix: m.value };
  const [a, b] = m.value.split('..');
  const lo = a?.trim() ? Number(a) : undefined;
  const hi = b?.trim() ? Number(b) : undefined;
  if ((lo !== undefined && !Number.isFinite(lo)) || (hi !== undefined && !Number.isFinite(hi))) {
    return null;
  }
  if (lo === undefined && hi === undefined) return null;
  const out: Filter = { type: 'metadata', name: m.name };
  if (lo !== undefined) out.lo = lo;
  if (hi !== undefined) out.hi = hi;
  return out;
}

/** The filter of the whole bar (null: every row of the run). */
export function buildFilter(s: FilterState): Filter | null {
  const parts: Filter[] = [];
  if (s.split && s.split !== 'all') parts.push({ type: 'split', values: [s.split] });
  const gt = classFilter('label', s.gt);
  if (gt) parts.push(gt);
  const pred = classFilter('prediction', s.pred);
  if (pred) parts.push(pred);
  for (const name of Object.keys(s.ranges).sort()) {
    const [lo, hi] = s.ranges[name];
    if (lo === null && hi === null) continue;
    const f: Filter = { type: 'metric', name };
    if (lo !== null) f.lo = lo;
    if (hi !== null) f.hi = hi;
    parts.push(f);
  }
  for (const m of s.meta) {
    const f = metaFilter(m);
    if (f) parts.push(f);
  }
  if (s.text.trim()) parts.push({ type: 'text', text: s.text.trim() });
  if (s.slice) parts.push({ type: 'slice', name: s.slice });
  if (s.extra) parts.push(s.extra);
  if (parts.length === 0) return null;
  return parts.length === 1 ? parts[0] : { type: 'and', filters: parts };
}

/** A short human description of a filter (for chips). */
export function describe(f: Filter): string {
  switch (f.type) {
    case 'and':
      return (f.filters as Filter[]).map(describe).join(' and ');
    case 'or':
      return '(' + (f.filters as Filter[]).map(describe).join(' or ') + ')';
    case 'not':
      return 'not ' + describe(f.filter as Filter);
    case 'ids':
      return `${(f.ids as number[]).length} selected rows`;
    case 'confusion':
      return `confusion ${f.gt_class ?? 'None'} → ${f.pred_class ?? 'None'}`;
    case 'class':
      return `${f.side === 'label' ? 'gt' : 'pred'} ${f.present === false ? 'not ' : ''}${f.class_name ?? 'any'}`;
    case 'metric': {
      const name = f.class_name ? `${f.class_name}.${f.name}` : String(f.name);
      const lo = f.lo ?? null;
      const hi = f.hi ?? null;
      return `${lo ?? '−∞'} ≤ ${name} ${f.hi_inclusive === false ? '<' : '≤'} ${hi ?? '∞'}`;
    }
    case 'split':
      return `split ${(f.values as string[]).join('|')}`;
    case 'slice':
      return `slice ${f.name}`;
    case 'similar':
      return `${f.k ?? 20} rows similar to ${(f.anchors as number[]).length} in ${f.space}`;
    default:
      return String(f.type);
  }
}
