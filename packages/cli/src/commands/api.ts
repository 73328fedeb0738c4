// gcorp api METHOD PATH: any request to the hub with the credential in use, like `gh api`, for what has no command.
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';
import { BaseCommand } from '../base-command.js';
import { usageError } from '../lib/errors.js';
import { Output } from '../lib/output.js';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

/** `-F` values: true, false, null and numbers as JSON; anything else as a string. */
function typedValue(text: string): unknown {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === 'null') return null;
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return text;
}

function splitField(flag: string, pair: string): [string, string] {
  const eq = pair.indexOf('=');
  if (eq <= 0) throw usageError(`${flag}: "${pair}" is not key=value.`);
  return [pair.slice(0, eq), pair.slice(eq + 1)];
}

export default class Api extends BaseCommand<typeof Api> {
  static override summary = 'Make an authenticated request to any path of the hub\'s API.';
  static override description = `Sends METHOD PATH to the hub with the credential in use (when there is one) and prints the response body: JSON pretty-printed, anything else as is. Fields (-f strings, -F typed) go in the query string of GET and DELETE requests and in a JSON body otherwise; --input sends a whole body. POSTs carry an Idempotency-Key. An error status prints the problem document on stdout, its message on stderr, and exits with the usual codes.`;
  static override examples = [
    '<%= config.bin %> <%= command.id %> GET /v1/me',
    '<%= config.bin %> <%= command.id %> GET /v1/runs -f status=failed -F limit=5',
    '<%= config.bin %> <%= command.id %> GET /v1/api-keys --paginate',
    '<%= config.bin %> <%= command.id %> PATCH /v1/tenant -f name="Acme Inc"',
    `<%= config.bin %> <%= command.id %> POST /v1/runs --input '{"agent":"echo","input":{"message":"hi"}}' -i`,
  ];
  static override args = {
    method: Args.string({ description: `HTTP method (${METHODS.join(', ')}).`, required: true }),
    path: Args.string({ description: 'Path below the hub\'s URL, like /v1/runs (query string allowed).', required: true }),
  };
  static override flags = {
    field: Flags.string({ char: 'f', description: 'A string field key=value (repeatable).', multiple: true }),
    'raw-field': Flags.string({ char: 'F', description: 'A typed field key=value: true, false, null and numbers are JSON (repeatable).', multiple: true }),
    input: Flags.string({ description: 'The request body: JSON text, @file, or - for standard input.' }),
    header: Flags.string({ char: 'H', description: 'An extra header "Name: value" (repeatable).', multiple: true }),
    paginate: Flags.boolean({ description: 'Follow next_cursor and print every item of a list.' }),
    include: Flags.boolean({ char: 'i', description: 'Print the status line and headers before the body.' }),
  };

  async run(): Promise<void> {
    const method = this.args.method.toUpperCase() as (typeof METHODS)[number];
    if (!METHODS.includes(method)) throw usageError(`"${this.args.method}" is not an HTTP method (${METHODS.join(', ')}).`);
    if (/^[a-z][a-z0-9+.-]*:/i.test(this.args.path)) throw usageError('PATH is a path on the hub (/v1/…), not a URL: choose the hub with --server.');
    const [rawPath, rawQuery] = (this.args.path.startsWith('/') ? this.args.path : `/${this.args.path}`).split('?', 2) as [string, string | undefined];

    const fields: Record<string, unknown> = {};
    for (const pair of this.flags.field ?? []) {
      const [k, v] = splitField('--field', pair);
      fields[k] = v;
    }
    for (const pair of this.flags['raw-field'] ?? []) {
      const [k, v] = splitField('--raw-field', pair);
      fields[k] = typedValue(v);
    }
    const headers: Record<string, string> = {};
    for (const line of this.flags.header ?? []) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw usageError(`--header: "${line}" is not "Name: value".`);
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const inQuery = method === 'GET' || method === 'DELETE' || method === 'HEAD';
    const query: Record<string, string> = Object.fromEntries(new URLSearchParams(rawQuery ?? ''));
    let body: unknown;
    if (inQuery) {
      for (const [k, v] of Object.entries(fields)) query[k] = String(v);
      if (this.flags.input !== undefined) throw usageError(`--input: a ${method} request has no body.`);
    } else if (this.flags.input !== undefined) {
      if (Object.keys(fields).length > 0) throw usageError('Give fields (-f/-F) or --input, not both.');
      const { readJsonArgument } = await import('../lib/json-input.js');
      body = await readJsonArgument('--input', this.flags.input);
    } else if (Object.keys(fields).length > 0) {
      body = fields;
    }

    const gc = await (await this.context()).client({ auth: 'optional' });
    const send = (q: Record<string, string>) =>
      gc.request<unknown>(method, rawPath, { query: Object.keys(q).length > 0 ? q : undefined, body, headers, auth: 'optional' }).withResponse();

    let { data, response } = await send(query);
    if (this.flags.paginate && method === 'GET') {
      const items: unknown[] = [];
      for (let guard = 0; guard < 10_000; guard++) {
        const page = data as { data?: unknown; next_cursor?: unknown };
        if (!page || !Array.isArray(page.data)) break;
        items.push(...page.data);
        if (typeof page.next_cursor !== 'string' || page.next_cursor === '') {
          data = { data: items, next_cursor: null };
          break;
        }
        ({ data, response } = await send({ ...query, cursor: page.next_cursor }));
      }
    }
    if (this.flags.include) {
      this.out.print(`HTTP ${response.status}`);
      for (const [name, value] of Object.entries(response.headerRecord)) this.out.print(`${name}: ${value}`);
      this.out.print();
    }
    if (data === undefined || data === '') return;
    if (typeof data === 'string') this.out.write(data.endsWith('\n') ? data : `${data}\n`);
    else this.out.printJson(data);
  }

  /** An error response is the body of this command: its problem document goes to stdout, as JSON, in every mode. */
  override async catch(err: Error & { exitCode?: number }): Promise<void> {
    const e = err as Error & { problem?: unknown; body?: unknown };
    if (!this.out.json && e.problem !== undefined && e.problem !== null) {
      const { reportError } = await import('../lib/errors.js');
      const out = Output.plain({ json: true, debug: this.out.debug });
      process.exitCode = reportError(err, out, {});
      return;
    }
    await super.catch(err);
  }
}
