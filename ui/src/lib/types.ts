// Shapes of the API answers the UI reads. Paths and parameters come from the generated
// api-types.ts (openapi-typescript over tests/openapi.json); the server returns most
// bodies as free-form JSON objects, so their fields are described here.

/** The filter language of the query engine (core/query.py), in its JSON form. */
export type Filter =
  | { type: 'and'; filters: Filter[] }
  | { type: 'or'; filters: Filter[] }
  | { type: 'not'; filter: Filter }
  | { type: 'split'; values: string[] }
  | { type: 'class'; side: 'label' | 'prediction'; class_name: string | null; present?: boolean }
  | {
      type: 'metric';
      name: string;
      lo?: number | null;
      hi?: number | null;
      class_name?: string | null;
      lo_inclusive?: boolean;
      hi_inclusive?: boolean;
    }
  | { type: 'metadata'; name: string; equals?: string; prefix?: string; lo?: number; hi?: number }
  | { type: 'text'; text: string }
  | { type: 'ids'; ids: number[] }
  | { type: 'slice'; name: string }
  | { type: 'confusion'; gt_class: string | null; pred_class: string | null }
  | { type: string; [key: string]: unknown };

export interface RunInfo {
  name: string;
  model: string;
  status: string;
  predictions: number;
  data_rows: number;
  splits: Record<string, number>;
  evaluated: boolean;
  evaluation_params: Record<string, unknown> | null;
}

export interface RowRef {
  id: number;
  global_key: string | null;
  sort_value: number | null;
}

export interface RowsPage {
  rows: RowRef[];
  total: number;
  next_cursor: string | null;
}

export interface ObjectResult {
  status: string; // TP, FP, FN, ignored
  matched_id: number | null;
  iou: number | null;
  error_type: string | null;
}

export interface Annotation {
  id: number;
  class_name: string;
  kind: string; // box, polygon, polyline, point, mask, span, radio, checklist, ...
  x1?: number;
  y1?: number;
  x2?: number;
  y2?: number;
  coords?: number[][];
  rle_counts?: string;
  rle_h?: number;
  rle_w?: number;
  span_start?: number;
  span_end?: number;
  answers?: string[];
  confidence?: number;
  evaluation?: ObjectResult | null;
}

export interface RowDetail {
  id: number;
  global_key: string | null;
  media_type: string;
  uri?: string;
  width?: number;
  height?: number;
  text?: string;
  media_url: string | null;
  metadata: Record<string, string | number | null>;
  labels: Annotation[];
  predictions?: Annotation[];
  run?: string;
  split?: string | null;
  evaluated?: boolean;
  row_metrics?: Record<string, number | null> | null;
}

export interface CountBar {
  class_name: string;
  count: number;
  rows: number;
  filter: Filter;
}

export interface ConfusionCell {
  gt_class: string | null;
  pred_class: string | null;
  count: number;
  rows: number;
  filter: Filter;
}

export interface Aggregate {
  run: string;
  rows: number;
  labels: CountBar[];
  predictions: CountBar[];
  confusion: {
    evaluated: boolean;
    gt_classes: (string | null)[];
    pred_classes: (string | null)[];
    cells: ConfusionCell[];
  };
}

export interface HistogramBin {
  lo: number;
  hi: number;
  count: number;
  filter: Filter;
}

export interface Curves {
  run: string;
  curve: string;
  count: number;
  columns: {
    class_name: string[];
    iou: number[];
    recall: number[];
    precision: number[];
    score: (number | null)[];
  };
}

export interface SliceInfo {
  name: string;
  description: string;
  filter: Filter;
  run: string | null;
  ready_made: boolean;
}
