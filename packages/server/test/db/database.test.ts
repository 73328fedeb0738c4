import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appConnectionUrl, openDatabase, type Database } from '../../src/db/database.js';
import { SerializationFailureError } from '../../src/db/errors.js';
import { createTestDatabase, ownerQuery, type TestDatabase } from '../helpers/db.js';

let testDb: TestDatabase;
const opened: Database[] = [];

function open(): Database {
  const db = openDatabase({ ownerUrl: testDb.ownerUrl, appUrl: testDb.appUrl });
  opened.push(db);
  return db;
}

beforeAll(async () => {
  testDb = await createTestDatabase();
});

afterAll(async () => {
  await Promise.all(opened.map((db) => db.close()));
  await testDb?.drop();
});

/** Resolves with the next value pushed, or rejects after `ms`. */
function inbox<T>(): { push: (value: T) => void; next: (ms?: number) => Promise<T> } {
  const queued: T[] = [];
  const waiting: ((value: T) => void)[] = [];
  return {
    push(value) {
      const resolve = waiting.shift();
      if (resolve) resolve(value);
      else queued.push(value);
    },
    next(ms = 5_000) {
      if (queued.length > 0) return Promise.resolve(queued.shift() as T);
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`nothing arrived within ${ms} ms`)), ms);
        waiting.push((value) => {
          clearTimeout(timer);
          resolve(value);
        });
      });
    },
  };
}

describe('LISTEN/NOTIFY', () => {
  it('a notification sent through one Database reaches a listener of another', async () => {
    const [sender, receiver] = [open(), open()];
    const received = inbox<string>();
    const unlisten = await receiver.listen('gcorp_test', received.push);
    await sender.notify('gcorp_test', 'key:key_123');
    expect(await received.next()).toBe('key:key_123');
    await unlisten();
  });

  it('several subscribers of a channel each get it; an unsubscribed one no longer does', async () => {
    const [sender, receiver] = [open(), open()];
    const first = inbox<string>();
    const second = inbox<string>();
    const stopFirst = await receiver.listen('gcorp_fanout', first.push);
    await receiver.listen('gcorp_fanout', second.push);
    await receiver.listen('gcorp_other', () => second.push('wrong channel'));
    await sender.notify('gcorp_fanout', 'one');
    expect([await first.next(), await second.next()]).toEqual(['one', 'one']);
    await stopFirst();
    await sender.notify('gcorp_fanout', 'two');
    expect(await second.next()).toBe('two');
    await expect(first.next(300)).rejects.toThrow(/nothing arrived/);
  });

  it('a lost LISTEN connection comes back, calls onReconnect, and receives again', async () => {
    const [sender, receiver] = [open(), open()];
    const received = inbox<string>();
    const reconnected = inbox<true>();
    await receiver.listen('gcorp_resilient', received.push, () => reconnected.push(true));
    await sender.notify('gcorp_resilient', 'before');
    expect(await received.next()).toBe('before');

    const { rows } = await ownerQuery<{ n: number }>(
      testDb.ownerUrl,
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'gcorp-server-listen'`,
    );
    expect(rows[0]?.n).toBeGreaterThanOrEqual(1);
    expect(await reconnected.next(10_000)).toBe(true);

    await sender.notify('gcorp_resilient', 'after');
    expect(await received.next()).toBe('after');
  });

  it('the first listen fails loudly when the database cannot be reached', async () => {
    const unreachable = openDatabase({ ownerUrl: testDb.ownerUrl, appUrl: 'postgres://gcorp_app@127.0.0.1:1/none' });
    try {
      await expect(unreachable.listen('gcorp_x', () => undefined)).rejects.toThrow();
    } finally {
      await unreachable.close();
    }
  });
});

describe('health and transactions', () => {
  it('ping answers true when PostgreSQL answers and false when it cannot be reached', async () => {
    expect(await open().ping()).toBe(true);
    const unreachable = openDatabase({ ownerUrl: testDb.ownerUrl, appUrl: 'postgres://gcorp_app@127.0.0.1:1/none' });
    try {
      expect(await unreachable.ping(1_000)).toBe(false);
    } finally {
      await unreachable.close();
    }
  });

  it('derives the app URL from the owner URL: same server and database, user gcorp_app', () => {
    expect(appConnectionUrl('postgres://postgres:secret@db.internal:6543/hub?sslmode=require', 'p@ss/word')).toBe(
      'postgres://gcorp_app:p%40ss%2Fword@db.internal:6543/hub?sslmode=require',
    );
    expect(appConnectionUrl('postgres://postgres@127.0.0.1:5432/postgres')).toBe('postgres://gcorp_app@127.0.0.1:5432/postgres');
  });

  it('a transaction that throws leaves nothing behind', async () => {
    const db = open();
    await expect(
      db.global(async (q) => {
        await q.query(`INSERT INTO users (id, email, password_hash) VALUES ('usr_rollback', 'rb@example.com', 'x')`);
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect((await db.query(`SELECT count(*)::int AS n FROM users WHERE id = 'usr_rollback'`)).rows[0]).toEqual({ n: 0 });
  });

  it('a connection the server ends between two statements of a transaction fails that transaction, not the process', async () => {
    const db = open();
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const outcome = db.global(async (q) => {
        const { rows } = await q.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await ownerQuery(testDb.ownerUrl, `SELECT pg_terminate_backend(${Number(rows[0]!.pid)})`);
        // Let the termination arrive while this transaction has no statement in flight (as on a Ctrl-C that stops
        // an embedded PostgreSQL together with the hub).
        await new Promise((resolve) => setTimeout(resolve, 300));
        await q.query('SELECT 1');
      });
      await expect(outcome).rejects.toThrow();
      expect(uncaught).toEqual([]);
      expect((await db.query<{ one: number }>('SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });

  it('a serializable transaction that loses a race fails with a retryable SerializationFailureError', async () => {
    const db = open();
    await ownerQuery(testDb.ownerUrl, `INSERT INTO tenants (id, name) VALUES ('ten_race', 'race')`);
    // Write skew: both read the key count, then both add a key. Serializable isolation lets only one commit.
    let release!: () => void;
    const bothRead = new Promise<void>((resolve) => {
      release = resolve;
    });
    let readers = 0;
    const addKeyIfNone = (id: string) =>
      db.tenant(
        'ten_race',
        async (q) => {
          const { rows } = await q.query<{ n: number }>('SELECT count(*)::int AS n FROM api_keys');
          if (++readers === 2) release();
          await bothRead;
          if (rows[0]?.n === 0) {
            await q.query(`INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, scopes) VALUES ($1, 'ten_race', 'n', 'p', 'h', '{}')`, [id]);
          }
        },
        { isolation: 'serializable' },
      );
    const results = await Promise.allSettled([addKeyIfNone('key_r1'), addKeyIfNone('key_r2')]);
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toBeInstanceOf(SerializationFailureError);
    expect(failures[0]).toMatchObject({ code: '40001', retryable: true });
    const { rows } = await ownerQuery(testDb.ownerUrl, `SELECT count(*)::int AS n FROM api_keys WHERE tenant_id = 'ten_race'`);
    expect(rows[0]).toEqual({ n: 1 });
  });

  it('refuses an empty tenant id instead of running with no tenant', async () => {
    await expect(open().tenant('', () => Promise.resolve(1))).rejects.toThrow(/tenantId/);
  });
});
