// Row-metric histograms: the server's (GET /api/runs/{run}/histogram) when it has them,
// else binned here from the rows' sort values, with the same click-through filters.
import { allIds, api, ApiError } from './api';
import { equalBins, metricDomain } from './binning';
import { RATIO_METRICS } from './filters';
import type { Filter, HistogramBin } from './types';

let serverHasHistograms: boolean | null = null;

function under(base: Filter | null, f: Filter): Filter {
  return base ? { type: 'and', filters: [base, f] } : f;
}

export async function histogram(run: string, metric: string, base: Filter | null, n = 20): Promise<HistogramBin[]> {
  if (serverHasHistograms !== false) {
    try {
      const found = await api.histogram(run, metric, base);
      serverHasHistograms = true;
      return found.bins;
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404 || serverHasHistograms === true) throw e;
      serverHasHistograms = false;
    }
  }
  const rows = await allIds(run, base, `${metric}:asc`);
  const values = rows.map((r) => r.sort_value);
  const bins = equalBins(values, n, metricDomain(metric, values, RATIO_METRICS.includes(metric)));
  return bins.map((b, i) => ({
    ...b,
    filter: under(base, { type: 'metric', name: metric, lo: b.lo, hi: b.hi, hi_inclusive: i === bins.length - 1 }),
  }));
}
