// The pool BullMQ's PostgreSQL backend queries through prepares each parameterized statement once per connection.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PreparingPool } from '../src/runs/queue.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';

let testDb: TestDatabase;
let pool: PreparingPool;

beforeAll(async () => {
  testDb = await createTestDatabase();
  pool = new PreparingPool({ connectionString: testDb.ownerUrl, max: 1 });
});
afterAll(async () => {
  await pool?.end();
  await testDb?.drop();
});

const preparedStatements = async () =>
  (await pool.query<{ name: string; statement: string }>('select name, statement from pg_prepared_statements order by statement')).rows;

it('prepares a parameterized statement once, by a name from its text, and answers as an unnamed one would', async () => {
  expect(await preparedStatements()).toEqual([]);
  const first = await pool.query<{ n: number; s: string }>('select $1::int + 1 as n, $2::text as s', [41, 'a']);
  const again = await pool.query<{ n: number; s: string }>('select $1::int + 1 as n, $2::text as s', [1, 'b']);
  expect(first.rows).toEqual([{ n: 42, s: 'a' }]);
  expect(again.rows).toEqual([{ n: 2, s: 'b' }]);
  const statements = await preparedStatements();
  expect(statements).toHaveLength(1);
  expect(statements[0]).toMatchObject({ name: expect.stringMatching(/^gcorp_[0-9a-f]{20}$/), statement: 'select $1::int + 1 as n, $2::text as s' });
});

it('sends queries without parameters, query objects and callback calls as they are', async () => {
  const before = await preparedStatements();
  expect((await pool.query<{ n: number }>('select 1 as n')).rows).toEqual([{ n: 1 }]);
  expect((await pool.query<{ n: number }>('select 2 as n', [])).rows).toEqual([{ n: 2 }]);
  expect((await pool.query<{ n: number }>({ text: 'select $1::int as n', values: [3] })).rows).toEqual([{ n: 3 }]);
  const viaCallback = await new Promise<unknown>((resolve, reject) =>
    pool.query('select $1::int as n', [4], (err: Error | undefined, res: { rows: unknown[] }) => (err ? reject(err) : resolve(res.rows))),
  );
  expect(viaCallback).toEqual([{ n: 4 }]);
  expect(await preparedStatements()).toEqual(before);
});

it('reports errors as pg does: a statement that fails to run serves later calls, one that fails to parse fails again', async () => {
  await expect(pool.query('select 1 / $1::int as n', [0])).rejects.toMatchObject({ code: '22012' });
  expect((await pool.query<{ n: number }>('select 1 / $1::int as n', [1])).rows).toEqual([{ n: 1 }]);
  for (let i = 0; i < 2; i++) await expect(pool.query('selec $1::int', [1])).rejects.toMatchObject({ code: '42601' });
  expect((await pool.query<{ n: number }>('select $1::int as n', [5])).rows).toEqual([{ n: 5 }]);
});
