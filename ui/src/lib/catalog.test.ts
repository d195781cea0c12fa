import { describe, expect, it } from 'vitest';
import {
  catalogFilter,
  ignoredInCatalog,
  isRunless,
  isUnlabeledOnly,
  metaSort,
  parseMetaSort,
  similarFilter,
  toggleUnlabeled,
} from './catalog';
import { NONE } from './filters';
import { defaultState, formatState, parseState, type ViewState } from './urlstate';

const UNLABELED = { type: 'class', side: 'label', class_name: null, present: false };

describe('catalog filter', () => {
  it('is null for the default state: every row of every dataset', () => {
    expect(catalogFilter(defaultState())).toBeNull();
  });

  it('keeps only the run-less parts of the view state', () => {
    const s: ViewState = {
      ...defaultState(),
      view: 'catalog',
      split: 'test',
      pred: ['dog'],
      ranges: { iou: [0, 0.5] },
      gt: [NONE],
      text: 'cat',
      datasets: ['voc', 'notes'],
      extra: { type: 'confusion', gt_class: 'cat', pred_class: null },
    };
    expect(catalogFilter(s)).toEqual({
      type: 'and',
      filters: [{ type: 'dataset', names: ['voc', 'notes'] }, UNLABELED, { type: 'text', text: 'cat' }],
    });
    expect(ignoredInCatalog(s)).toEqual([
      'split test',
      'prediction classes',
      'metric ranges',
      'confusion cat → None',
    ]);
    expect(ignoredInCatalog(defaultState())).toEqual([]);
  });

  it('ANDs a run-less selection or similarity search with the rest', () => {
    const similar = { type: 'similar', space: 'clip', anchors: [3, 9], k: 50 };
    const s: ViewState = { ...defaultState(), gt: ['person'], extra: similar };
    expect(catalogFilter(s)).toEqual({
      type: 'and',
      filters: [{ type: 'class', side: 'label', class_name: 'person' }, similar],
    });
    expect(catalogFilter({ ...defaultState(), datasets: ['d'] })).toEqual({ type: 'dataset', names: ['d'] });
    expect(catalogFilter({ ...defaultState(), datasets: ['d'], text: 'x' })).toEqual({
      type: 'and',
      filters: [
        { type: 'dataset', names: ['d'] },
        { type: 'text', text: 'x' },
      ],
    });
  });

  it('tells run-less filters from run filters, nested too', () => {
    expect(isRunless(UNLABELED)).toBe(true);
    expect(isRunless({ type: 'class', side: 'prediction', class_name: 'dog' })).toBe(false);
    expect(isRunless({ type: 'not', filter: { type: 'metric', name: 'iou', hi: 1 } })).toBe(false);
    expect(
      isRunless({ type: 'or', filters: [{ type: 'ids', ids: [1] }, { type: 'metadata', name: 'a', equals: 'b' }] }),
    ).toBe(true);
    expect(isRunless({ type: 'and', filters: [{ type: 'ids', ids: [1] }, { type: 'split', values: ['x'] }] })).toBe(false);
  });
});

describe('catalog controls', () => {
  it('toggles the unlabeled filter', () => {
    expect(toggleUnlabeled(['person'], true)).toEqual([NONE]);
    expect(toggleUnlabeled([NONE], false)).toEqual([]);
    expect(isUnlabeledOnly([NONE])).toBe(true);
    expect(isUnlabeledOnly(['person', NONE])).toBe(false);
  });

  it('round-trips metadata sorts, odd field names included', () => {
    for (const [field, desc] of [
      ['rank', true],
      ['taken at', false],
      ['a):desc"', true],
    ] as [string, boolean][]) {
      expect(parseMetaSort(metaSort(field, desc))).toEqual([field, desc]);
    }
    expect(metaSort('', true)).toBeNull();
    expect(parseMetaSort(null)).toEqual(['', false]);
    expect(parseMetaSort('iou:asc')).toEqual(['', false]);
  });

  it('builds a similarity filter from 1 to 20 selected rows', () => {
    expect(similarFilter('pix', new Set([9, 2]))).toEqual({ type: 'similar', space: 'pix', anchors: [2, 9], k: 50 });
    expect(similarFilter('pix', [])).toBeNull();
    expect(similarFilter('', [1])).toBeNull();
    expect(similarFilter('pix', Array.from({ length: 21 }, (_, i) => i))).toBeNull();
  });

  it('keeps the catalog state in the URL', () => {
    const s: ViewState = {
      ...defaultState(),
      view: 'catalog',
      datasets: ['voc', 'a&b'],
      gt: [NONE],
      catalogSort: metaSort('taken at', true),
      extra: { type: 'similar', space: 'pix', anchors: [1, 2], k: 50 },
    };
    const text = formatState(s);
    expect(text).toContain('view=catalog');
    expect(parseState(text)).toEqual(s);
  });
});
