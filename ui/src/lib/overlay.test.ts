import { describe, expect, it } from 'vitest';
import { RESULT_COLORS } from './colors';
import { colorOf, describeObject, ERROR_COLORS, shapeOf } from './overlay';
import type { Annotation } from './types';

const box: Annotation = {
  id: 3,
  class_name: 'dog',
  kind: 'bbox',
  x1: 10,
  y1: 20,
  x2: 4,
  y2: 2,
  confidence: 0.8,
  evaluation: { status: 'FP', matched_id: null, iou: 0.31, error_type: 'localisation' },
};

describe('overlay shapes', () => {
  it('turns boxes, polygons and points into SVG geometry', () => {
    expect(shapeOf(box, 'pred', 'class', ['dog']).rect).toEqual([4, 2, 6, 18]);
    const poly = shapeOf({ id: 1, class_name: 'x', kind: 'polygon', coords: [[0, 0, 4, 0, 4, 3]] }, 'gt', 'class', []);
    expect(poly.points).toEqual(['0,0 4,0 4,3']);
    const pts = shapeOf({ id: 2, class_name: 'x', kind: 'point', coords: [[1, 2, 3, 4]] }, 'gt', 'class', []);
    expect(pts.pts).toEqual([
      [1, 2],
      [3, 4],
    ]);
    const mask = shapeOf({ id: 4, class_name: 'x', kind: 'mask', rle_counts: '411210ON3', rle_h: 5, rle_w: 4 }, 'gt', 'class', []);
    expect(mask.kind).toBe('mask');
  });

  it('colors by class, result or error type', () => {
    expect(colorOf(box, 'result', [])).toBe(RESULT_COLORS.FP);
    expect(colorOf(box, 'error', [])).toBe(ERROR_COLORS.localisation);
    const tp = { ...box, evaluation: { ...box.evaluation!, status: 'TP', error_type: null } };
    expect(colorOf(tp, 'error', [])).toBe(RESULT_COLORS.TP);
    expect(colorOf(box, 'class', ['cat', 'dog'])).not.toBe(colorOf(box, 'class', ['dog']));
  });

  it('describes an object for the hover tip', () => {
    expect(describeObject(box, 'pred')).toBe('pred dog · conf 0.800 · FP · IoU 0.310 · localisation');
  });
});
