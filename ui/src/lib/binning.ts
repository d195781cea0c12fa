// Equal-width histograms (d3-array's bin) of row metric values, with the same bin edges and
// closedness as the server's histograms: [lo, hi) and the last bin [lo, hi].
import { bin } from 'd3-array';

export interface Bin {
  lo: number;
  hi: number;
  count: number;
}

export function equalBins(values: Iterable<number | null>, n: number, domain: [number, number]): Bin[] {
  const [lo, hi] = domain;
  const width = hi > lo ? (hi - lo) / n : 1 / n;
  const top = hi > lo ? hi : lo + 1;
  const edges = Array.from({ length: n - 1 }, (_, i) => lo + (i + 1) * width);
  const clean = [...values].filter((v): v is number => v !== null && Number.isFinite(v) && v >= lo && v <= top);
  const bins = bin().domain([lo, top]).thresholds(edges)(clean);
  return bins.map((b, i) => ({
    lo: i === 0 ? lo : edges[i - 1],
    hi: i === n - 1 ? top : edges[i],
    count: b.length,
  }));
}

/** Domain of a metric's histogram: [0, 1] for ratios, [0, max] for counts. */
export function metricDomain(metric: string, values: Iterable<number | null>, ratio: boolean): [number, number] {
  if (ratio) return [0, 1];
  let max = 0;
  for (const v of values) if (v !== null && Number.isFinite(v) && v > max) max = v;
  void metric;
  return [0, Math.max(1, max)];
}
