// "Add to batch" from the gallery's selection: the POST /api/batches body and the answer
// shown to the user (pure).
import type { Filter } from './types';

export interface BatchForm {
  name: string;
  project: string;
  priority: number;
}

export interface NewBatchBody {
  name: string;
  project: string;
  priority: number;
  run: string | null;
  ids?: number[];
  filter?: Filter;
}

export interface BatchReport {
  name: string;
  project: string;
  priority: number;
  rows: number[];
  skipped_in_project: number[];
}

/** Why the form cannot be sent (null: it can). */
export function batchFormError(form: BatchForm): string | null {
  if (!form.name.trim()) return 'a batch needs a name';
  if (!form.project) return 'choose a labeling project';
  if (!Number.isInteger(form.priority) || form.priority < 1 || form.priority > 5) {
    return 'priority is an integer from 1 (highest) to 5';
  }
  return null;
}

/** The body of POST /api/batches: the selected ids, or (all matching rows) the gallery's
 * filter, where no filter at all is the empty AND (every row of the run). */
export function batchBody(
  form: BatchForm,
  run: string | null,
  selection: { ids: Iterable<number> } | { filter: Filter | null },
): NewBatchBody {
  const body: NewBatchBody = {
    name: form.name.trim(),
    project: form.project,
    priority: form.priority,
    run,
  };
  if ('ids' in selection) body.ids = [...selection.ids].sort((a, b) => a - b);
  else body.filter = selection.filter ?? { type: 'and', filters: [] };
  return body;
}

function rows(n: number): string {
  return n === 1 ? '1 row' : `${n} rows`;
}

/** What the answer says, e.g. “batch “b” (project p): 2 rows added, 1 skipped …”. */
export function batchMessage(r: BatchReport): string {
  let out = `batch “${r.name}” (${r.project}, priority ${r.priority}): ${rows(r.rows.length)} added`;
  if (r.skipped_in_project.length > 0) {
    out += `, ${rows(r.skipped_in_project.length)} skipped as already in the project`;
  }
  return out;
}
