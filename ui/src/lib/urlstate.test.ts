import { describe, expect, it } from 'vitest';
import { buildFilter, NONE } from './filters';
import { defaultState, formatState, parseState, type ViewState } from './urlstate';

describe('URL state', () => {
  it('the default state is the empty query string', () => {
    expect(formatState(defaultState())).toBe('');
    expect(parseState('')).toEqual(defaultState());
  });

  it('round-trips a full state, odd characters included', () => {
    const s: ViewState = {
      ...defaultState(),
      run: 'det v2&x',
      view: 'metrics',
      split: 'valid',
      gt: ['person', 'a|b,c', NONE],
      pred: ['dog'],
      ranges: { iou: [0.2, 0.8], fp: [1, null], f1: [null, 0.5] },
      meta: [
        { name: 'camera', op: 'equals', value: 'x|y' },
        { name: 'size', op: 'range', value: '1..5' },
      ],
      text: '<script>alert(1)</script>',
      slice: 'hard ones',
      extra: { type: 'confusion', gt_class: 'cat', pred_class: null },
      sort: 'person.iou:desc',
      row: 42,
      colorBy: 'result',
      showGt: false,
      showPred: true,
      space: 'clip',
      pointColor: 'result',
    };
    expect(parseState(formatState(s))).toEqual(s);
    expect(parseState(formatState(s).slice(1))).toEqual(s);
  });

  it('ignores malformed parameters', () => {
    const s = parseState('?view=nope&r.iou=a..b&r.bogus=1..2&row=-3&f={broken&meta=x|op|1');
    expect(s).toEqual(defaultState());
  });

  it('builds the filter the bar stands for', () => {
    const s = parseState('?split=test&gt=person&r.iou=0.2..0.8&pred=__none__');
    expect(buildFilter(s)).toEqual({
      type: 'and',
      filters: [
        { type: 'split', values: ['test'] },
        { type: 'class', side: 'label', class_name: 'person' },
        { type: 'class', side: 'prediction', class_name: null, present: false },
        { type: 'metric', name: 'iou', lo: 0.2, hi: 0.8 },
      ],
    });
    expect(buildFilter(defaultState())).toBeNull();
  });
});

describe('color modes', () => {
  it('keeps the error-type coloring in the URL', () => {
    const s = { ...defaultState(), colorBy: 'error' as const };
    expect(formatState(s)).toBe('?color=error');
    expect(parseState('?color=error').colorBy).toBe('error');
    expect(parseState('?color=bogus').colorBy).toBe('class');
  });
});

describe('patterns view', () => {
  it('keeps the view and its "significant only" toggle in the URL', () => {
    const s = { ...defaultState(), run: 'det', view: 'patterns' as const, significantOnly: true, split: 'valid' };
    expect(formatState(s)).toBe('?run=det&view=patterns&split=valid&sig=1');
    expect(parseState(formatState(s))).toEqual(s);
    expect(parseState('?view=patterns').significantOnly).toBe(false);
    expect(parseState('?view=patterns&sig=yes').significantOnly).toBe(false);
  });
});
