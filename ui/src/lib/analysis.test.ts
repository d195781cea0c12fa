import { describe, expect, it } from 'vitest';
import { buildFilter } from './filters';
import { formatState } from './urlstate';
import {
  classEstimate,
  fmt,
  fmtEstimate,
  fmtInterval,
  fmtP,
  mislabelView,
  pct,
  signed,
  suggestSliceName,
  verdict,
  whisker,
} from './analysis';

describe('interval formatting', () => {
  it('formats values, signed deltas and intervals', () => {
    expect(fmt(0.4944751)).toBe('0.494');
    expect(fmt(null)).toBe('–');
    expect(fmt(Number.NaN)).toBe('–');
    expect(signed(0.0123)).toBe('+0.012');
    expect(signed(-0.0341)).toBe('-0.034');
    expect(signed(0.0001)).toBe('0.000'); // no "+0.000"
    expect(fmtInterval([0.417036, 0.58948])).toBe('[0.417, 0.589]');
    expect(fmtInterval([-0.02, 0.05], 2, true)).toBe('[-0.02, +0.05]');
    expect(fmtInterval(null)).toBe('');
    expect(fmtInterval([null, 0.3])).toBe('');
    expect(fmtEstimate({ value: 0.5637, ci: [0.4974, 0.6301] })).toBe('0.564 [0.497, 0.630]');
    expect(fmtEstimate({ value: 0.5, ci: null })).toBe('0.500');
    expect(fmtEstimate(undefined)).toBe('–');
    expect(pct(0.3384)).toBe('34%');
    expect(pct(null)).toBe('–');
  });

  it('formats p-values readably', () => {
    expect(fmtP(0.05)).toBe('0.05');
    expect(fmtP(0.5)).toBe('0.5');
    expect(fmtP(0.0123)).toBe('0.012');
    expect(fmtP(0.00026691)).toBe('2.7e-4');
    expect(fmtP(1e-15)).toBe('< 1e-12');
    expect(fmtP(1)).toBe('1');
    expect(fmtP(undefined)).toBe('–');
  });
});

describe('delta verdicts', () => {
  it('marks a change only when its interval excludes 0', () => {
    expect(verdict({ value: 0.05, ci: [0.01, 0.09] })).toBe('improved');
    expect(verdict({ value: -0.05, ci: [-0.09, -0.01] })).toBe('regressed');
    expect(verdict({ value: 0.05, ci: [-0.01, 0.09] })).toBe('unchanged');
    expect(verdict({ value: 0, ci: [0, 0] })).toBe('unchanged'); // a run against itself
    expect(verdict({ value: -0.05, ci: [-0.09, 0] })).toBe('unchanged'); // touches 0
    expect(verdict({ value: null, ci: null })).toBe('unknown');
    expect(verdict(undefined)).toBe('unknown');
  });
});

describe('whiskers', () => {
  it('places an interval on a bar in percent of its width, clamped', () => {
    expect(whisker([0.25, 0.75])).toEqual({ left: 25, width: 50 });
    expect(whisker([2, 6], 8)).toEqual({ left: 25, width: 50 });
    expect(whisker([-0.1, 1.2])).toEqual({ left: 0, width: 100 });
    expect(whisker([0.75, 0.25])).toEqual({ left: 25, width: 50 });
    expect(whisker(null)).toBeNull();
    expect(whisker([0.1, null])).toBeNull();
    expect(whisker([0.1, 0.2], 0)).toBeNull();
  });

  it('finds a class metric in the intervals answer, AP under its own key', () => {
    const entry = {
      f1: { value: 0.75, ci: [0.6, 0.9] as [number, number] },
      ap_at_iou: { value: 0.68, ci: [0.47, 0.86] as [number, number] },
    };
    expect(classEstimate(entry, 'f1')?.value).toBe(0.75);
    expect(classEstimate(entry, 'ap')?.value).toBe(0.68);
    expect(classEstimate(entry, 'iou')).toBeNull();
    expect(classEstimate(undefined, 'f1')).toBeNull();
  });
});

describe('slice names for patterns', () => {
  const where = [
    { key: 'brightness', value: 'bright', label: 'image brightness', level: 'row' },
    { key: 'colour:blue', value: 'yes', label: 'dominant colours include blue', level: 'row' },
  ];
  it('names what fails, then where', () => {
    expect(suggestSliceName({ what: { kind: 'confusion', gt: 'cat', pred: 'dog', error: null }, where })).toBe(
      'cat as dog · brightness=bright colour:blue=yes',
    );
    expect(suggestSliceName({ what: { kind: 'confusion', gt: 'cat', pred: null, error: null }, where: [] })).toBe(
      'cat as none',
    );
    expect(
      suggestSliceName({ what: { kind: 'error_type', gt: null, pred: null, error: 'background' }, where }),
    ).toBe('background errors · brightness=bright colour:blue=yes');
    expect(suggestSliceName({ what: { kind: 'spurious', gt: null, pred: 'person', error: null }, where: [] })).toBe(
      'spurious person',
    );
  });
  it('keeps names short', () => {
    const long = suggestSliceName(
      { what: { kind: 'any', gt: null, pred: null, error: null }, where: [...where, ...where, ...where] },
      30,
    );
    expect(long.length).toBe(30);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('likely label mistakes', () => {
  it('opens the gallery on the candidate_mislabels slice, highest score first', () => {
    const v = mislabelView('det');
    expect(buildFilter(v)).toEqual({ type: 'slice', name: 'candidate_mislabels' });
    expect(v.sort).toBe('mislabel_score:desc');
    expect(formatState(v)).toBe('?run=det&slice=candidate_mislabels&sort=mislabel_score%3Adesc');
  });
});
