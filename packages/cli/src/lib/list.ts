// Paging flags and helpers shared by the list commands: --limit, --cursor, --all, and the hint for the next page.
import * as Flags from '@oclif/core/flags';
import type { Page, PagePromise } from '@genericcorp/sdk';
import type { Output } from './output.js';

export const pagingFlags = {
  limit: Flags.integer({ description: 'Items per page (1-100).', min: 1, max: 100, default: 20 }),
  cursor: Flags.string({ description: 'Start at this page (the next_cursor of a previous list).' }),
  all: Flags.boolean({ description: 'Fetch every page.', exclusive: ['cursor'] }),
};

export interface Listed<T> {
  data: T[];
  next_cursor: string | null;
}

/** The first page, or with `all` every page, as one list body. */
export async function collect<T>(first: PagePromise<T>, all: boolean): Promise<Listed<T>> {
  if (!all) {
    const page: Page<T> = await first;
    return { data: page.data, next_cursor: page.next_cursor };
  }
  const data: T[] = [];
  for await (const page of first.iterPages()) data.push(...page.data);
  return { data, next_cursor: null };
}

/** On stderr: how to get the next page (only in human mode). */
export function printNextPageHint(out: Output, listed: Listed<unknown>, argv: readonly string[], bin = 'gcorp'): void {
  if (!listed.next_cursor) return;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--cursor') i++;
    else if (!argv[i]!.startsWith('--cursor=')) rest.push(argv[i]!);
  }
  out.info(out.err.dim(`More: ${bin} ${rest.join(' ')} --cursor ${listed.next_cursor}`.replace(/\s+/g, ' ')));
}
