import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContractFetch } from '@genericcorp/contract';
import { bootstrap, startTestHub, type Tenant, type TestHub } from './helpers/hub.js';

let t: TestHub;
let admin: Tenant;

beforeAll(async () => {
  t = await startTestHub();
  admin = await bootstrap(t);
});
afterAll(async () => t?.close());

describe('API keys', () => {
  it('creates a key whose secret is shown once and never listed', async () => {
    const created = await t.as(admin.key).call('POST', '/v1/api-keys', { body: { name: 'ci', scopes: ['runs:read'] } });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^gc_live_/);
    expect(created.body.key.startsWith(created.body.prefix)).toBe(true);
    const got = await t.as(admin.key).call('GET', `/v1/api-keys/${created.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body.key).toBeUndefined();
    const list = await t.as(admin.key).call('GET', '/v1/api-keys');
    expect(list.body.data.map((k: { id: string }) => k.id)).toContain(created.body.id);
    expect(JSON.stringify(list.body)).not.toContain(created.body.key);
  });

  it('stores only a SHA-256 of the key', async () => {
    const created = await t.as(admin.key).call('POST', '/v1/api-keys', { body: { name: 'hash-check', scopes: ['runs:read'] } });
    const pg = await import('pg');
    const client = new pg.default.Client({ connectionString: t.ownerUrl });
    await client.connect();
    try {
      const row = await client.query('select secret_hash from api_keys where id = $1', [created.body.id]);
      const { createHash } = await import('node:crypto');
      expect(row.rows[0].secret_hash).toBe(createHash('sha256').update(created.body.key).digest('hex'));
      const all = await client.query(`select count(*)::int as n from api_keys where secret_hash like '%' || $1 || '%'`, [created.body.key.slice(-20)]);
      expect(all.rows[0].n).toBe(0);
    } finally {
      await client.end();
    }
  });

  it('enforces scopes on every operation', async () => {
    const created = await t.as(admin.key).call('POST', '/v1/api-keys', { body: { name: 'read-only', scopes: ['runs:read'] } });
    const ro = t.as(created.body.key);
    const res = await ro.call('GET', '/v1/api-keys');
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('insufficient_scope');
    expect((await ro.call('GET', '/v1/admin/tenants')).status).toBe(403);
    expect((await ro.call('GET', '/v1/me')).status).toBe(200);
  });

  it('cannot grant scopes the caller lacks', async () => {
    const created = await t.as(admin.key).call('POST', '/v1/api-keys', { body: { name: 'keys-only', scopes: ['keys:manage'] } });
    const res = await t.as(created.body.key).call('POST', '/v1/api-keys', { body: { name: 'escalate', scopes: ['tenant:admin'] } });
    expect(res.status).toBe(403);
  });

  it('refuses an expired key', async () => {
    // Valid for 5 s: room for the two requests below on a busy machine; then wait until it has expired.
    const soon = new Date(Date.now() + 5_000).toISOString();
    const created = await t.as(admin.key).call('POST', '/v1/api-keys', { body: { name: 'short', scopes: ['runs:read'], expires_at: soon } });
    expect(created.status).toBe(201);
    expect((await t.as(created.body.key).call('GET', '/v1/me')).status).toBe(200);
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(soon) - Date.now()) + 200));
    const res = await t.as(created.body.key).call('GET', '/v1/me');
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('api_key_expired');
    const past = await t.as(admin.key).call('POST', '/v1/api-keys', { body: { name: 'past', scopes: ['runs:read'], expires_at: '2020-01-01T00:00:00Z' } });
    expect(past.status).toBe(400);
  });

  it('rotates: same id and scopes, a new secret; the old secret stops working at once', async () => {
    const created = await t.as(admin.key).call('POST', '/v1/api-keys', { body: { name: 'rot', scopes: ['runs:read', 'usage:read'] } });
    expect((await t.as(created.body.key).call('GET', '/v1/me')).status).toBe(200); // cached now
    const rotated = await t.as(admin.key).call('POST', `/v1/api-keys/${created.body.id}/rotate`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.id).toBe(created.body.id);
    expect(rotated.body.key).not.toBe(created.body.key);
    expect(rotated.body.scopes).toEqual(['runs:read', 'usage:read']);
    expect((await t.as(created.body.key).call('GET', '/v1/me')).status).toBe(401);
    expect((await t.as(rotated.body.key).call('GET', '/v1/me')).status).toBe(200);
    await t.as(admin.key).call('DELETE', `/v1/api-keys/${created.body.id}`);
    const again = await t.as(admin.key).call('POST', `/v1/api-keys/${created.body.id}/rotate`);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('api_key_inactive');
  });

  it('pages through keys with an opaque cursor and rejects a forged one', async () => {
    for (let i = 0; i < 3; i++) await t.as(admin.key).call('POST', '/v1/api-keys', { body: { name: `page-${i}`, scopes: ['runs:read'] } });
    const seen = new Set<string>();
    let cursor: string | null = null;
    do {
      const res = await t.as(admin.key).call('GET', `/v1/api-keys?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(2);
      for (const k of res.body.data) {
        expect(seen.has(k.id)).toBe(false);
        seen.add(k.id);
      }
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(seen.size).toBeGreaterThanOrEqual(6);
    const bad = await t.as(admin.key).call('GET', '/v1/api-keys?cursor=not-a-cursor');
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('invalid_cursor');
    const big = await t.as(admin.key).call('GET', '/v1/api-keys?limit=101');
    expect(big.status).toBe(400);
  });

  it('a key revoked through one process fails on another by NOTIFY, before its cached copy expires', async () => {
    const created = await t.as(admin.key).call('POST', '/v1/api-keys', { body: { name: 'revoke-me', scopes: ['runs:read'] } });
    // The other process keeps a verified key for 5 minutes: a 401 within the 10 s budget below came by NOTIFY.
    const other = await t.sibling({ keyCacheTtlMs: 300_000 });
    const otherApi = createContractFetch({ baseUrl: other.url, headers: { authorization: `Bearer ${created.body.key}` } });
    // Warm the other process's cache so revocation has to reach it.
    expect((await otherApi.call('GET', '/v1/me')).status).toBe(200);
    expect((await otherApi.call('GET', '/v1/me')).status).toBe(200);
    const revoked = await t.as(admin.key).call('DELETE', `/v1/api-keys/${created.body.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).toBeTruthy();
    const start = Date.now();
    let status: number;
    for (;;) {
      status = (await otherApi.call('GET', '/v1/me')).status;
      if (status === 401 || Date.now() - start > 10_000) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe(401);
  });
});
