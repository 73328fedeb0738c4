// Cursor pages (`{ data, next_cursor }`) that iterate over every item, page after page, with `for await`.
import { APIPromise } from './api-promise.js';
import { GenericCorpError } from './error.js';
import type { APIResponse } from './response.js';

export interface ListBody<Item> {
  data: Item[];
  next_cursor: string | null;
}

/** Fetches the page that starts at `cursor`. */
export type PageFetcher<Item> = (cursor: string) => PagePromise<Item>;

export class Page<Item> implements AsyncIterable<Item> {
  /** The items of this page. */
  readonly data: Item[];
  /** Opaque cursor of the next page; null on the last page. */
  readonly next_cursor: string | null;
  /** Status and headers of the response that carried this page. */
  readonly response: APIResponse;
  #fetch: PageFetcher<Item>;

  constructor(body: ListBody<Item>, response: APIResponse, fetch: PageFetcher<Item>) {
    this.data = Array.isArray(body.data) ? body.data : [];
    this.next_cursor = typeof body.next_cursor === 'string' && body.next_cursor !== '' ? body.next_cursor : null;
    this.response = response;
    this.#fetch = fetch;
  }

  hasNextPage(): boolean {
    return this.next_cursor !== null;
  }

  /** The next page; throws when this is the last one (check `hasNextPage()` first). */
  getNextPage(): PagePromise<Item> {
    if (this.next_cursor === null) throw new GenericCorpError('This is the last page: there is no next page to fetch.');
    return this.#fetch(this.next_cursor);
  }

  /** This page, then each following page until the last. */
  async *iterPages(): AsyncGenerator<Page<Item>, void, undefined> {
    yield this;
    let cursor = this.next_cursor;
    while (cursor !== null) {
      const page: Page<Item> = await this.#fetch(cursor);
      yield page;
      // A server that hands back the cursor it was given would make this loop forever.
      if (page.next_cursor === cursor) throw new GenericCorpError(`The server returned the same cursor twice (${cursor}).`);
      cursor = page.next_cursor;
    }
  }

  /** Every item of this page and of the pages after it. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Item, void, undefined> {
    for await (const page of this.iterPages()) yield* page.data;
  }
}

/** Awaits to the first page; `for await` over it walks every item of every page. */
export class PagePromise<Item> extends APIPromise<Page<Item>> implements AsyncIterable<Item> {
  async *[Symbol.asyncIterator](): AsyncGenerator<Item, void, undefined> {
    const page = await this;
    yield* page;
  }

  /** Every page, starting with this one. */
  async *iterPages(): AsyncGenerator<Page<Item>, void, undefined> {
    const page = await this;
    yield* page.iterPages();
  }
}
