// Text rows: the text cut into segments at every span boundary, each with the gold and
// predicted spans covering it (rendered as text, never as HTML).
import type { Annotation } from './types';

export interface Segment {
  start: number;
  end: number;
  text: string;
  gold: Annotation[];
  pred: Annotation[];
}

export function segments(text: string, gold: Annotation[], pred: Annotation[]): Segment[] {
  const spans = [...gold, ...pred].filter(
    (a) => a.span_start !== undefined && a.span_end !== undefined,
  );
  const cuts = new Set<number>([0, text.length]);
  for (const a of spans) {
    cuts.add(Math.max(0, Math.min(text.length, a.span_start as number)));
    cuts.add(Math.max(0, Math.min(text.length, a.span_end as number)));
  }
  const points = [...cuts].sort((a, b) => a - b);
  const covers = (a: Annotation, s: number, e: number) =>
    a.span_start !== undefined && a.span_end !== undefined && a.span_start <= s && a.span_end >= e;
  const out: Segment[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const [s, e] = [points[i], points[i + 1]];
    if (s === e) continue;
    out.push({
      start: s,
      end: e,
      text: text.slice(s, e),
      gold: gold.filter((a) => covers(a, s, e)),
      pred: pred.filter((a) => covers(a, s, e)),
    });
  }
  return out;
}
