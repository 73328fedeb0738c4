// The promise every call returns: awaits to the parsed body, and `withResponse()` also gives status and headers.
import type { APIResponse } from './response.js';

export interface WithResponse<T> {
  data: T;
  response: APIResponse;
}

/**
 * A Promise of the parsed body. The request starts when the method is called, as with any promise; `withResponse()`
 * gives the same result together with the APIResponse (status, headers, request id).
 */
export class APIPromise<T> implements Promise<T> {
  #result: Promise<WithResponse<T>>;
  #data: Promise<T> | undefined;

  constructor(result: Promise<WithResponse<T>>) {
    this.#result = result;
  }

  /** A promise of `{ data, response }`. */
  withResponse(): Promise<WithResponse<T>> {
    return this.#result;
  }

  /** A new APIPromise whose data is `transform(data)`, with the same response. */
  _thenData<U>(transform: (data: T, response: APIResponse) => U): APIPromise<U> {
    return new APIPromise(this.#result.then(({ data, response }) => ({ data: transform(data, response), response })));
  }

  #dataPromise(): Promise<T> {
    return (this.#data ??= this.#result.then(({ data }) => data));
  }

  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#dataPromise().then(onfulfilled, onrejected);
  }

  catch<R = never>(onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.#dataPromise().catch(onrejected);
  }

  finally(onfinally?: (() => void) | null): Promise<T> {
    return this.#dataPromise().finally(onfinally);
  }

  readonly [Symbol.toStringTag] = 'APIPromise';
}
