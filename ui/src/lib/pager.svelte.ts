// The gallery's rows for one query, loaded page by page (keyset cursors) as they are needed.
import { api } from './api';
import type { Filter, RowRef, RowsPage } from './types';

export interface PageQuery {
  filter: Filter | null;
  sort: string | null;
  limit: number;
  cursor: string | null;
}

export const PAGE = 200;

export class Pager {
  rows = $state<RowRef[]>([]);
  total = $state<number | null>(null);
  loading = $state(false);
  error = $state<string | null>(null);
  private cursor: string | null = null;
  private done = false;
  private generation = 0;

  constructor(
    readonly run: string,
    readonly filter: Filter | null,
    readonly sort: string | null,
    /** Where pages come from (default: the run's rows; the catalog passes its own). */
    private readonly load: (q: PageQuery) => Promise<RowsPage> = (q) => api.rows(run, q),
  ) {}

  /** Load pages until at least ``n`` rows are loaded or there are no more. */
  async ensure(n: number): Promise<void> {
    if (this.loading) return;
    const gen = this.generation;
    this.loading = true;
    try {
      while (!this.done && this.rows.length < n && gen === this.generation) {
        const page = await this.load({
          filter: this.filter,
          sort: this.sort,
          limit: PAGE,
          cursor: this.cursor,
        });
        if (gen !== this.generation) return;
        this.rows.push(...page.rows);
        this.total = page.total;
        this.cursor = page.next_cursor;
        this.done = page.next_cursor === null;
      }
    } catch (e) {
      this.error = (e as Error).message;
      this.done = true;
    } finally {
      this.loading = false;
    }
  }

  cancel(): void {
    this.generation++;
  }
}
