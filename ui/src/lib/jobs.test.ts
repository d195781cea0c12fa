import { describe, expect, it } from 'vitest';
import { progressFraction, progressLabel, thresholdError, type Job } from './jobs';

const job = (patch: Partial<Job>): Job => ({
  id: '1',
  kind: 'evaluate',
  run: 'det',
  state: 'running',
  progress: null,
  error: null,
  ...patch,
});

describe('thresholdError', () => {
  it('accepts IoU in [0, 1) and confidence in [0, 1]', () => {
    expect(thresholdError(0, 0)).toBeNull();
    expect(thresholdError(0.95, 1)).toBeNull();
  });
  it('names the bad threshold', () => {
    expect(thresholdError(1, 0.5)).toMatch(/IoU/);
    expect(thresholdError(-0.1, 0.5)).toMatch(/IoU/);
    expect(thresholdError(Number.NaN, 0.5)).toMatch(/IoU/);
    expect(thresholdError(0.5, 1.5)).toMatch(/confidence/);
  });
});

describe('progress', () => {
  it('is the fraction of the current stage, unknown before the first report', () => {
    expect(progressFraction(job({}))).toBeNull();
    expect(progressFraction(job({ progress: { stage: 's', done: 1, total: 4 } }))).toBe(0.25);
    expect(progressFraction(job({ progress: { stage: 's', done: 0, total: 0 } }))).toBeNull();
    expect(progressFraction(job({ state: 'done' }))).toBe(1);
  });
  it('says the stage and percentage, or the error', () => {
    expect(progressLabel(job({ progress: { stage: 'matching', done: 2, total: 5 } }))).toBe('matching 40%');
    expect(progressLabel(job({}))).toBe('starting…');
    expect(progressLabel(job({ state: 'failed', error: 'boom' }))).toBe('failed: boom');
    expect(progressLabel(job({ state: 'done' }))).toBe('done');
  });
});
