import { describe, expect, it } from 'vitest';
import { batchBody, batchFormError, batchMessage } from './batch';

const form = { name: ' review ', project: 'p', priority: 2 };

describe('batchFormError', () => {
  it('accepts a complete form', () => {
    expect(batchFormError(form)).toBeNull();
  });
  it('needs a name and a project', () => {
    expect(batchFormError({ ...form, name: '  ' })).toMatch(/name/);
    expect(batchFormError({ ...form, project: '' })).toMatch(/project/);
  });
  it('keeps the priority to integers 1 to 5', () => {
    for (const p of [0, 6, 2.5, Number.NaN]) expect(batchFormError({ ...form, priority: p })).toMatch(/priority/);
    for (const p of [1, 5]) expect(batchFormError({ ...form, priority: p })).toBeNull();
  });
});

describe('batchBody', () => {
  it('sends the selected ids sorted, with the trimmed name and the run', () => {
    expect(batchBody(form, 'det', { ids: new Set([9, 3, 5]) })).toEqual({
      name: 'review',
      project: 'p',
      priority: 2,
      run: 'det',
      ids: [3, 5, 9],
    });
  });
  it('sends the filter of all matching rows, the empty AND for every row', () => {
    const f = { type: 'split' as const, values: ['val'] };
    expect(batchBody(form, 'det', { filter: f }).filter).toEqual(f);
    const all = batchBody(form, 'det', { filter: null });
    expect(all.filter).toEqual({ type: 'and', filters: [] });
    expect(all.ids).toBeUndefined();
  });
});

describe('batchMessage', () => {
  const r = { name: 'b', project: 'p', priority: 1, rows: [1, 2], skipped_in_project: [] as number[] };
  it('counts the added rows', () => {
    expect(batchMessage(r)).toBe('batch “b” (p, priority 1): 2 rows added');
  });
  it('counts the rows skipped as already in the project', () => {
    expect(batchMessage({ ...r, rows: [], skipped_in_project: [4] })).toBe(
      'batch “b” (p, priority 1): 0 rows added, 1 row skipped as already in the project',
    );
  });
});
