// Typed calls to the errorscope REST API (request shapes from the generated api-types.ts).
import type { components } from './api-types';
import type { Delta, Intervals, Pattern } from './analysis';
import type { BatchReport, NewBatchBody } from './batch';
import type { CatalogSummary } from './catalog';
import type { Job } from './jobs';
import type {
  Aggregate,
  Curves,
  Filter,
  HistogramBin,
  RowDetail,
  RowsPage,
  RunInfo,
  SliceInfo,
} from './types';

type RowsQuery = components['schemas']['RowsQuery'];
type NewSlice = components['schemas']['NewSlice'];
type CatalogQuery = components['schemas']['CatalogQuery'];

export const MAX_LIMIT = 10_000;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as { error?: { message?: string } };
      if (body.error?.message) message = body.error.message;
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, message);
  }
  return (await res.json()) as T;
}

function post<T>(url: string, body: unknown): Promise<T> {
  return call<T>(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

const enc = encodeURIComponent;

function withFilter(url: string, filter: Filter | null, extra: Record<string, string> = {}): string {
  const p = new URLSearchParams(extra);
  if (filter) p.set('filter', JSON.stringify(filter));
  const q = p.toString();
  return q ? `${url}?${q}` : url;
}

export const api = {
  info: () => call<Record<string, unknown>>('/api/info'),
  runs: () => call<{ runs: RunInfo[] }>('/api/runs').then((r) => r.runs),
  rows: (run: string, q: RowsQuery) => post<RowsPage>(`/api/runs/${enc(run)}/rows`, q),
  catalog: () => call<CatalogSummary>('/api/catalog'),
  catalogRows: (q: CatalogQuery) => post<RowsPage>('/api/catalog/rows', q),
  row: (id: number, run: string | null) =>
    call<RowDetail>(run ? `/api/rows/${id}?run=${enc(run)}` : `/api/rows/${id}`),
  aggregate: (run: string, filter: Filter | null) =>
    call<Aggregate>(withFilter(`/api/runs/${enc(run)}/aggregate`, filter)),
  confusion: (run: string, filter: Filter | null) =>
    call<Aggregate['confusion']>(withFilter(`/api/runs/${enc(run)}/confusion`, filter)),
  histogram: (run: string, metric: string, filter: Filter | null) =>
    call<{ metric: string; bins: HistogramBin[] }>(
      withFilter(`/api/runs/${enc(run)}/histogram`, filter, { metric }),
    ),
  classes: (run: string, filter: Filter | null) =>
    call<{ metrics?: Record<string, unknown>[]; classes?: Record<string, unknown>[] }>(
      withFilter(`/api/runs/${enc(run)}/classes`, filter),
    ),
  evaluation: (run: string) => call<Record<string, unknown>>(`/api/runs/${enc(run)}/evaluation`),
  curves: (run: string) => call<Curves>(`/api/runs/${enc(run)}/curves?iou=0.5&iou=0.75`),
  compare: (a: string, b: string) =>
    call<Record<string, unknown>>(`/api/compare?a=${enc(a)}&b=${enc(b)}`),
  slices: () => call<{ slices: SliceInfo[] }>('/api/slices?ready_made=true').then((r) => r.slices),
  saveSlice: (body: NewSlice) => post<SliceInfo>('/api/slices', body),
  labelingProjects: () => call<{ name: string; backend: string }[]>('/api/labeling-projects'),
  createBatch: (body: NewBatchBody) => post<BatchReport>('/api/batches', body),
  /** Two metrics of every matching row with its class and result codes, in one request
   * (see decodePointsWithCodes). */
  pointsWithCodes: async (
    run: string,
    x: string,
    y: string,
    filter: Filter | null,
  ): Promise<{ buf: ArrayBuffer; n: number }> => {
    const res = await fetch(withFilter(`/api/runs/${enc(run)}/points`, filter, { x, y, classes: 'true' }));
    if (!res.ok) throw new ApiError(res.status, `points of ${run}: ${res.status} ${res.statusText}`);
    return { buf: await res.arrayBuffer(), n: Number(res.headers.get('X-Points')) };
  },
  /** Failure patterns within ``filter``'s rows, worst first (GET .../patterns). */
  patterns: (run: string, filter: Filter | null, top: number, significant: boolean) =>
    call<{ run: string; patterns: Pattern[] }>(
      withFilter(`/api/runs/${enc(run)}/patterns`, filter, { top: String(top), significant: String(significant) }),
    ).then((r) => r.patterns),
  /** Precision / recall / F1 (and AP) with 95 % bootstrap intervals, overall and per class. */
  intervals: (run: string, filter: Filter | null) =>
    call<Intervals>(withFilter(`/api/runs/${enc(run)}/intervals`, filter)),
  /** ``metric`` of ``run`` minus ``baseline`` with its paired-bootstrap interval. */
  delta: (run: string, baseline: string, metric: string, filter: Filter | null = null) =>
    call<Delta>(withFilter(`/api/runs/${enc(run)}/delta`, filter, { baseline, metric })),
  evaluate: (run: string, iou: number, confidence: number) =>
    post<Job>(`/api/runs/${enc(run)}/evaluate`, { iou, confidence }),
  job: (id: string) => call<Job>(`/api/jobs/${enc(id)}`),
  embeddings: () => call<Record<string, unknown>>('/api/embeddings'),
  /** The projection's bytes and level (X-Level: ``object`` in a per-object space). */
  projection: async (space: string): Promise<{ buf: ArrayBuffer; level: 'row' | 'object' }> => {
    const res = await fetch(`/api/embeddings/${enc(space)}/projection`);
    if (!res.ok) throw new ApiError(res.status, `projection of ${space}: ${res.status} ${res.statusText}`);
    const level = res.headers.get('X-Level') === 'object' ? 'object' : 'row';
    return { buf: await res.arrayBuffer(), level };
  },
};

/** Every id (in order) of the rows matching a query, page by page. */
export async function allIds(run: string, filter: Filter | null, sort: string | null = null): Promise<RowsPage['rows']> {
  const out: RowsPage['rows'] = [];
  let cursor: string | null = null;
  do {
    const page: RowsPage = await api.rows(run, { filter, sort, limit: MAX_LIMIT, cursor });
    out.push(...page.rows);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

/** Row details, fetched at most ``SLOTS`` at a time (the newest asked first: the tiles
 * in view after a scroll) and cached by (run, id). */
const SLOTS = 6;
const cache = new Map<string, Promise<RowDetail>>();
let active = 0;
const waiting: (() => void)[] = [];

async function acquire(): Promise<void> {
  if (active < SLOTS) {
    active++;
    return;
  }
  await new Promise<void>((resolve) => waiting.push(resolve)); // the slot is handed over
}

function release(): void {
  const next = waiting.pop();
  if (next) next();
  else active--;
}

/** Forget every cached row detail (after a re-evaluation). */
export function clearRowCache(): void {
  cache.clear();
}

export function rowDetail(id: number, run: string | null): Promise<RowDetail> {
  const key = `${run ?? ''}\u0000${id}`;
  let found = cache.get(key);
  if (!found) {
    found = (async () => {
      await acquire();
      try {
        return await api.row(id, run);
      } finally {
        release();
      }
    })();
    found.catch(() => cache.delete(key));
    cache.set(key, found);
    if (cache.size > 2000) cache.delete(cache.keys().next().value as string);
  }
  return found;
}
