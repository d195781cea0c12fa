// The gallery's and the catalog's row selection: clicked rows (a click toggles, shift+click
// adds the range from the last clicked row) or every row matching the filter.
import type { Filter } from './types';
import { rangeBetween } from './virtual';

export class Selection {
  /** The chosen row ids (empty while ``allMatching``). */
  ids = $state(new Set<number>());
  /** Every row that matches the view's filter, loaded or not. */
  allMatching = $state(false);
  /** The position of the last clicked row, where a shift+click range starts. */
  private anchor: number | null = null;

  /** A click on the row at position ``index`` of the loaded rows (``rowAt``: the id at a
   * position, undefined past the loaded ones): toggles it, or with ``shift`` adds every row
   * from the last clicked one to it. Leaves "all matching" for the listed ids. */
  click(index: number, shift: boolean, rowAt: (i: number) => number | undefined): void {
    const next = new Set(this.ids);
    if (shift && this.anchor !== null) {
      for (const i of rangeBetween(this.anchor, index)) {
        const id = rowAt(i);
        if (id !== undefined) next.add(id);
      }
    } else {
      const id = rowAt(index);
      if (id !== undefined && !next.delete(id)) next.add(id);
    }
    this.allMatching = false;
    this.anchor = index;
    this.ids = next;
  }

  selectAll(): void {
    this.allMatching = true;
    this.ids = new Set();
    this.anchor = null;
  }

  clear(): void {
    this.allMatching = false;
    this.ids = new Set();
    this.anchor = null;
  }

  has(id: number): boolean {
    return this.allMatching || this.ids.has(id);
  }

  /** How many rows are selected, ``total`` being the number of matching rows. */
  count(total: number | null): number {
    return this.allMatching ? (total ?? 0) : this.ids.size;
  }

  /** The chosen ids, ascending. */
  sorted(): number[] {
    return [...this.ids].sort((a, b) => a - b);
  }

  /** What a request about the selection sends: the ids, or ``filter`` for all matching. */
  rows(filter: Filter | null): { ids: number[] } | { filter: Filter | null } {
    return this.allMatching ? { filter } : { ids: this.sorted() };
  }
}
