// Failure patterns, metric intervals and run deltas (issue 9): the shapes of
// GET /api/runs/{run}/patterns, /intervals and /delta (free-form JSON in the OpenAPI
// schema, described here) and the pure formatting / deciding the views do with them.
import type { Filter } from './types';
import { defaultState, type ViewState } from './urlstate';

/** A point estimate and its 95 % interval (either may be null where undefined). */
export interface Estimate {
  value: number | null;
  ci: [number | null, number | null] | null;
}

export interface PatternWhere {
  key: string;
  value: string;
  label: string;
  level: string;
}

export interface Pattern {
  rank: number;
  description: string;
  what: { kind: string; gt: string | null; pred: string | null; error: string | null };
  where: PatternWhere[];
  rows: number;
  n_in: number;
  k_in: number;
  n_out: number;
  k_out: number;
  rate_in: number | null;
  rate_out: number | null;
  gap_ci: [number, number];
  p_value: number;
  p_adjusted: number;
  significant: boolean;
  score: number;
  metric_class: string | null;
  f1_in: Estimate;
  f1_out: number | null;
  filter: Filter;
}

export interface ClassIntervals {
  tp?: number;
  fp?: number;
  fn?: number;
  precision?: Estimate;
  recall?: Estimate;
  f1?: Estimate;
  ap_at_iou?: Estimate;
}

export interface Intervals {
  run: string;
  rows: number;
  confidence: number;
  n_boot: number;
  overall: ClassIntervals;
  per_class: Record<string, ClassIntervals>;
}

export interface DeltaEntry {
  new: Estimate;
  old: Estimate;
  delta: Estimate;
}

export interface Delta {
  run: string;
  baseline: string;
  metric: string;
  rows: number;
  overall: DeltaEntry;
  per_class: Record<string, DeltaEntry>;
}

/** The ready-made slice of likely label mistakes and its order (most likely first). */
export const MISLABEL_SLICE = 'candidate_mislabels';
export const MISLABEL_SORT = 'mislabel_score:desc';

/** The gallery on the likely label mistakes of ``run``, likeliest first (nothing else). */
export function mislabelView(run: string | null): ViewState {
  return { ...defaultState(), run, view: 'gallery', slice: MISLABEL_SLICE, sort: MISLABEL_SORT };
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** "0.494" (or "–" when undefined). */
export function fmt(v: number | null | undefined, digits = 3): string {
  return isNum(v) ? v.toFixed(digits) : '–';
}

/** "+0.012" / "-0.034" / "0.000". */
export function signed(v: number | null | undefined, digits = 3): string {
  if (!isNum(v)) return '–';
  const t = v.toFixed(digits);
  return v > 0 && Number(t) !== 0 ? `+${t}` : t;
}

/** "[0.417, 0.589]" (or "" when the interval is missing), signed for deltas. */
export function fmtInterval(ci: Estimate['ci'] | undefined, digits = 3, withSign = false): string {
  if (!ci || !isNum(ci[0]) || !isNum(ci[1])) return '';
  const f = withSign ? signed : fmt;
  return `[${f(ci[0], digits)}, ${f(ci[1], digits)}]`;
}

/** "0.494 [0.417, 0.589]". */
export function fmtEstimate(e: Estimate | null | undefined, digits = 3): string {
  if (!e) return '–';
  const ci = fmtInterval(e.ci, digits);
  return ci ? `${fmt(e.value, digits)} ${ci}` : fmt(e.value, digits);
}

/** A rate as a percentage: "34%" ("–" when undefined). */
export function pct(v: number | null | undefined): string {
  return isNum(v) ? `${Math.round(v * 100)}%` : '–';
}

/** A p-value for people: 2 significant digits, "< 1e-12" below that. */
export function fmtP(p: number | null | undefined): string {
  if (!isNum(p)) return '–';
  if (p < 1e-12) return '< 1e-12';
  if (p >= 0.001) return p.toPrecision(2).replace(/\.?0+$/, '');
  return p.toExponential(1);
}

export type Verdict = 'improved' | 'regressed' | 'unchanged' | 'unknown';

/** Whether a delta's interval excludes 0: above it improved, below it regressed. */
export function verdict(delta: Estimate | null | undefined): Verdict {
  const ci = delta?.ci;
  if (!ci || !isNum(ci[0]) || !isNum(ci[1])) return 'unknown';
  if (ci[0] > 0) return 'improved';
  if (ci[1] < 0) return 'regressed';
  return 'unchanged';
}

/** The whisker of an interval on a bar whose full width is ``max``, in percent of the
 * width (clamped to [0, 100]); null when there is no interval. */
export function whisker(
  ci: Estimate['ci'] | undefined,
  max = 1,
): { left: number; width: number } | null {
  if (!ci || !isNum(ci[0]) || !isNum(ci[1]) || !(max > 0)) return null;
  const clamp = (v: number) => Math.min(100, Math.max(0, (v / max) * 100));
  const lo = clamp(Math.min(ci[0], ci[1]));
  const hi = clamp(Math.max(ci[0], ci[1]));
  return { left: lo, width: hi - lo };
}

/** The estimate of a per-class metric in /intervals' answer (``ap`` is ``ap_at_iou``). */
export function classEstimate(entry: ClassIntervals | undefined, metric: string): Estimate | null {
  if (!entry) return null;
  const key = metric === 'ap' ? 'ap_at_iou' : metric;
  const e = (entry as Record<string, unknown>)[key];
  return e && typeof e === 'object' && 'value' in e ? (e as Estimate) : null;
}

/** A short slice name suggested for a pattern: what fails, then where. */
export function suggestSliceName(p: Pick<Pattern, 'what' | 'where'>, max = 60): string {
  const w = p.what;
  const what =
    w.kind === 'confusion'
      ? `${w.gt ?? 'none'} as ${w.pred ?? 'none'}`
      : w.kind === 'error_type'
        ? `${w.error ?? ''} errors`
        : w.kind === 'any'
          ? 'errors'
          : [w.kind, w.gt, w.pred].filter(Boolean).join(' ');
  const where = p.where.map((c) => `${c.key}=${c.value}`).join(' ');
  const name = [what, where].filter(Boolean).join(' · ').replace(/\s+/g, ' ').trim();
  return (name.length > max ? name.slice(0, max - 1) + '…' : name) || 'pattern';
}
