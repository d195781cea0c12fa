// The catalog view's query (pure): every data row of the workspace, no model run. Only the
// run-less parts of the view state count there (datasets, ground-truth classes incl. "is
// none" = unlabeled, metadata, text, slice, a run-less extra filter such as a selection or
// a similarity search); split, prediction classes and metric ranges belong to a run.
import { buildFilter, describe, NONE } from './filters';
import type { Filter } from './types';
import type { ViewState } from './urlstate';

/** Filter types that read a model run's results (the catalog refuses them). */
const RUN_TYPES = new Set(['split', 'metric', 'confusion', 'object', 'custom_metric']);

/** Whether a filter can be evaluated without a model run. */
export function isRunless(f: Filter): boolean {
  switch (f.type) {
    case 'and':
    case 'or':
      return (f.filters as Filter[]).every(isRunless);
    case 'not':
      return isRunless(f.filter as Filter);
    case 'class':
      return f.side === 'label';
    default:
      return !RUN_TYPES.has(f.type);
  }
}

/** The catalog's filter for a view state (null: every row of every dataset). */
export function catalogFilter(s: ViewState): Filter | null {
  const base = buildFilter({
    split: 'all',
    gt: s.gt,
    pred: [],
    ranges: {},
    meta: s.meta,
    text: s.text,
    slice: s.slice,
    extra: s.extra && isRunless(s.extra) ? s.extra : null,
  });
  if (s.datasets.length === 0) return base;
  const ds: Filter = { type: 'dataset', names: [...s.datasets] };
  if (base === null) return ds;
  return base.type === 'and' ? { type: 'and', filters: [ds, ...(base.filters as Filter[])] } : { type: 'and', filters: [ds, base] };
}

/** What of the view state the catalog ignores (it has no run), for a short notice. */
export function ignoredInCatalog(s: ViewState): string[] {
  const out: string[] = [];
  if (s.split && s.split !== 'all') out.push(`split ${s.split}`);
  if (s.pred.length > 0) out.push('prediction classes');
  if (Object.values(s.ranges).some(([lo, hi]) => lo !== null || hi !== null)) out.push('metric ranges');
  if (s.extra && !isRunless(s.extra)) out.push(describe(s.extra));
  return out;
}

/** Whether the state shows only unlabeled rows (ground truth "is none"). */
export function isUnlabeledOnly(gt: string[]): boolean {
  return gt.length === 1 && gt[0] === NONE;
}

/** The ground-truth classes after the unlabeled toggle: on = only "is none". */
export function toggleUnlabeled(gt: string[], on: boolean): string[] {
  return on ? [NONE] : gt.filter((c) => c !== NONE);
}

/** The catalog's sort spec for the API (null: by id) from "meta(FIELD):dir". */
export function metaSort(field: string, descending: boolean): string | null {
  if (!field) return null;
  const plain = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(field);
  return `meta(${plain ? field : JSON.stringify(field)}):${descending ? 'desc' : 'asc'}`;
}

/** ``[field, descending]`` of a catalog sort spec made by metaSort (["", false]: by id). */
export function parseMetaSort(spec: string | null): [string, boolean] {
  const m = spec ? /^meta\((.*)\):(asc|desc)$/.exec(spec) : null;
  if (!m) return ['', false];
  let field = m[1];
  if (field.startsWith('"')) {
    try {
      field = JSON.parse(field) as string;
    } catch {
      return ['', false];
    }
  }
  return [field, m[2] === 'desc'];
}

/** The similarity filter of a selection (1 to 20 anchors) in an embedding space. */
export function similarFilter(space: string, ids: Iterable<number>, k = 50): Filter | null {
  const anchors = [...ids].sort((a, b) => a - b);
  if (!space || anchors.length === 0 || anchors.length > 20) return null;
  return { type: 'similar', space, anchors, k };
}

export interface DatasetCounts {
  dataset: string;
  total: number;
  labeled: number;
  unlabeled: number;
}

export interface CatalogSummary {
  datasets: DatasetCounts[];
  classes: string[];
  metadata_fields: { name: string; type: string }[];
}
