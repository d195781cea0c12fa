// Background jobs (POST /api/runs/{run}/evaluate, GET /api/jobs/{id}): checks of the
// thresholds and the progress bar's numbers (pure).

export interface JobProgress {
  stage: string;
  done: number;
  total: number;
}

export interface Job {
  id: string;
  kind: string;
  run: string;
  state: 'running' | 'done' | 'failed';
  progress: JobProgress | null;
  error: string | null;
}

/** Why the thresholds cannot be sent (null: they can): IoU in [0, 1), confidence in [0, 1]. */
export function thresholdError(iou: number, confidence: number): string | null {
  if (!Number.isFinite(iou) || iou < 0 || iou >= 1) return 'IoU threshold must be in [0, 1)';
  if (!Number.isFinite(confidence) || confidence < 0 || confidence > 1) {
    return 'confidence threshold must be in [0, 1]';
  }
  return null;
}

/** The finished fraction of the job's current stage (null: not known yet; 1 when done). */
export function progressFraction(job: Job): number | null {
  if (job.state === 'done') return 1;
  const p = job.progress;
  if (!p || p.total <= 0) return null;
  return Math.min(1, Math.max(0, p.done / p.total));
}

/** A line such as “matching boxes 40%”, or the state. */
export function progressLabel(job: Job): string {
  if (job.state === 'failed') return `failed: ${job.error ?? 'unknown error'}`;
  if (job.state === 'done') return 'done';
  const f = progressFraction(job);
  const stage = job.progress?.stage ?? 'starting';
  return f === null ? `${stage}…` : `${stage} ${Math.round(100 * f)}%`;
}
