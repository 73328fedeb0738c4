// Builds request paths and query strings with every interpolated value percent-encoded.

/** Tagged template: path`/v1/runs/${id}/events` encodes `id` so that a value can never change the path's shape. */
export function path(strings: TemplateStringsArray, ...values: (string | number)[]): string {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) {
    out += encodeURIComponent(String(values[i])) + (strings[i + 1] ?? '');
  }
  return out;
}

export type QueryValue = string | number | boolean | null | undefined | readonly (string | number | boolean)[];
/** Query parameters: any object of QueryValue fields (the generated parameter types have no index signature). */
export type Query = object;

/** `?a=1&b=x` from an object (undefined and null entries left out), or '' when nothing is left. */
export function queryString(query: Query | undefined): string {
  if (query === undefined) return '';
  let out = '';
  for (const [name, value] of Object.entries(query as Record<string, QueryValue>)) {
    if (value === undefined || value === null) continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      out += `${out === '' ? '?' : '&'}${encodeURIComponent(name)}=${encodeURIComponent(String(item))}`;
    }
  }
  return out;
}

/** Substitutes `{name}` segments of a spec path template with encoded values. */
export function fillTemplate(template: string, params: Record<string, string | number> | undefined): string {
  return template.replace(/\{([^}]+)\}/g, (_match, name: string) => {
    const value = params?.[name];
    if (value === undefined) throw new TypeError(`missing path parameter "${name}" for ${template}`);
    return encodeURIComponent(String(value));
  });
}
