// Every view state lives in the URL's query string so any view can be shared and reloaded.
// parseState(formatState(s)) == s for every valid state (round trip, tested).
import { METRICS, type FilterState, type MetaCondition } from './filters';
import type { Filter } from './types';

export const VIEWS = ['gallery', 'metrics', 'projector', 'catalog', 'patterns'] as const;
export type View = (typeof VIEWS)[number];
export type ColorBy = 'class' | 'result' | 'error';

export interface ViewState extends FilterState {
  run: string | null;
  view: View;
  sort: string | null; // "[CLASS.]METRIC:asc|desc"
  row: number | null; // the detail view's row, if open
  colorBy: ColorBy;
  showGt: boolean;
  showPred: boolean;
  space: string | null; // the projector's embedding space
  pointColor: 'gt' | 'pred' | 'result';
  datasets: string[]; // the catalog's datasets (none: every dataset)
  catalogSort: string | null; // the catalog's order: null (id) or "meta(FIELD):asc|desc"
  significantOnly: boolean; // the patterns view lists only significant patterns
}

export function defaultState(): ViewState {
  return {
    run: null,
    view: 'gallery',
    split: 'all',
    gt: [],
    pred: [],
    ranges: {},
    meta: [],
    text: '',
    slice: null,
    extra: null,
    sort: null,
    row: null,
    colorBy: 'class',
    showGt: true,
    showPred: true,
    space: null,
    pointColor: 'gt',
    datasets: [],
    catalogSort: null,
    significantOnly: false,
  };
}

function num(text: string): number | null {
  if (text.trim() === '') return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

function isFilter(value: unknown): value is Filter {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

/** The state a query string describes; unknown or malformed parameters are ignored. */
export function parseState(search: string): ViewState {
  const p = new URLSearchParams(search);
  const s = defaultState();
  s.run = p.get('run');
  const view = p.get('view');
  if (view && (VIEWS as readonly string[]).includes(view)) s.view = view as View;
  s.split = p.get('split') ?? 'all';
  s.gt = p.getAll('gt');
  s.pred = p.getAll('pred');
  for (const m of METRICS) {
    const r = p.get(`r.${m}`);
    if (r === null) continue;
    const [a = '', b = ''] = r.split('..');
    const lo = num(a);
    const hi = num(b);
    if (lo !== null || hi !== null) s.ranges[m] = [lo, hi];
  }
  for (const m of p.getAll('meta')) {
    const [name, op, ...rest] = m.split('|');
    if (name && (op === 'equals' || op === 'prefix' || op === 'range')) {
      s.meta.push({ name, op, value: rest.join('|') } as MetaCondition);
    }
  }
  s.text = p.get('q') ?? '';
  s.slice = p.get('slice');
  const f = p.get('f');
  if (f) {
    try {
      const parsed: unknown = JSON.parse(f);
      if (isFilter(parsed)) s.extra = parsed;
    } catch {
      /* a broken link keeps the rest of the view */
    }
  }
  s.sort = p.get('sort');
  const row = p.get('row');
  if (row !== null && /^\d+$/.test(row)) s.row = Number(row);
  const color = p.get('color');
  if (color === 'result' || color === 'error') s.colorBy = color;
  const hide = p.getAll('hide');
  s.showGt = !hide.includes('gt');
  s.showPred = !hide.includes('pred');
  s.space = p.get('space');
  const pc = p.get('pcolor');
  if (pc === 'pred' || pc === 'result') s.pointColor = pc;
  s.datasets = p.getAll('ds');
  s.catalogSort = p.get('csort');
  s.significantOnly = p.get('sig') === '1';
  return s;
}

/** The query string (with a leading "?", or "" for the default state) of a state. */
export function formatState(s: ViewState): string {
  const p = new URLSearchParams();
  if (s.run) p.set('run', s.run);
  if (s.view !== 'gallery') p.set('view', s.view);
  if (s.split && s.split !== 'all') p.set('split', s.split);
  for (const c of s.gt) p.append('gt', c);
  for (const c of s.pred) p.append('pred', c);
  for (const m of METRICS) {
    const r = s.ranges[m];
    if (!r || (r[0] === null && r[1] === null)) continue;
    p.set(`r.${m}`, `${r[0] ?? ''}..${r[1] ?? ''}`);
  }
  for (const m of s.meta) p.append('meta', `${m.name}|${m.op}|${m.value}`);
  if (s.text) p.set('q', s.text);
  if (s.slice) p.set('slice', s.slice);
  if (s.extra) p.set('f', JSON.stringify(s.extra));
  if (s.sort) p.set('sort', s.sort);
  if (s.row !== null) p.set('row', String(s.row));
  if (s.colorBy !== 'class') p.set('color', s.colorBy);
  if (!s.showGt) p.append('hide', 'gt');
  if (!s.showPred) p.append('hide', 'pred');
  if (s.space) p.set('space', s.space);
  if (s.pointColor !== 'gt') p.set('pcolor', s.pointColor);
  for (const d of s.datasets) p.append('ds', d);
  if (s.catalogSort) p.set('csort', s.catalogSort);
  if (s.significantOnly) p.set('sig', '1');
  const text = p.toString();
  return text ? `?${text}` : '';
}
