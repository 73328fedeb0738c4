// Base of the resource classes: each holds the client and makes its requests through it.
import type { GenericCorp } from '../client.js';

export abstract class APIResource {
  protected readonly _client: GenericCorp;

  constructor(client: GenericCorp) {
    this._client = client;
  }
}
