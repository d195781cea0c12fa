// The app's state: the view state (mirrored in the URL) and what the views share.
import { buildFilter } from './filters';
import { defaultState, formatState, parseState, type ViewState } from './urlstate';
import type { SpaceInfo } from './projection';
import type { Filter, RunInfo } from './types';

export const app = $state({
  view: parseState(typeof location === 'undefined' ? '' : location.search) as ViewState,
  runs: [] as RunInfo[],
  gtClasses: [] as string[],
  predClasses: [] as string[],
  /** The gallery's rows in the current order, as far as loaded (detail prev/next). */
  order: [] as number[],
  error: null as string | null,
  /** The workspace's embedding spaces (projector, find similar). */
  spaces: [] as SpaceInfo[],
  /** Bumped when the run's results change (a re-evaluation): the views load again. */
  generation: 0,
  /** Bumped when a slice is saved: the slice picker loads the list again. */
  slicesVersion: 0,
});

/** Change the view state; ``push`` makes a history entry (else the URL is replaced). */
export function navigate(patch: Partial<ViewState>, push = true): void {
  const next: ViewState = { ...app.view, ...patch };
  const url = location.pathname + formatState(next);
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
  app.view = next;
}

/** Open the gallery on exactly the rows of a click-through filter (bar, bin, cell). */
export function clickThrough(filter: Filter): void {
  const base = defaultState();
  navigate({
    ...base,
    run: app.view.run,
    sort: app.view.sort,
    colorBy: app.view.colorBy,
    view: 'gallery',
    extra: filter,
  });
}

export function currentFilter(): Filter | null {
  return buildFilter(app.view);
}

if (typeof window !== 'undefined') {
  window.addEventListener('popstate', () => {
    app.view = parseState(location.search);
  });
}
