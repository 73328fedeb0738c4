// Opaque cursors for `{ data, next_cursor }` lists: the last id seen, base64url-wrapped and checked on the way in.
import { badRequest } from './problem.js';

export function encodeCursor(lastId: string): string {
  return Buffer.from(JSON.stringify({ a: lastId })).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): string | null {
  if (cursor === undefined || cursor === '') return null;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { a?: unknown };
    if (typeof parsed.a === 'string' && /^[a-z]{3}_[0-9a-z]{26}$/.test(parsed.a)) return parsed.a;
  } catch {
    // fall through to the problem below
  }
  throw badRequest('The cursor is not one this server issued; start again without it.', [{ field: '/query/cursor', message: 'is not a valid cursor' }], 'invalid_cursor');
}

/** Given rows fetched with limit + 1, returns the page and its next cursor. */
export function page<T extends { id: string }>(rows: T[], limit: number): { data: T[]; next_cursor: string | null } {
  const data = rows.slice(0, limit);
  return { data, next_cursor: rows.length > limit ? encodeCursor(data[data.length - 1]!.id) : null };
}
