import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { specPath } from '@genericcorp/contract';
import { bootstrap, startTestHub, type TestHub } from './helpers/hub.js';

let t: TestHub;

beforeAll(async () => {
  t = await startTestHub();
});
afterAll(async () => t?.close());

describe('operations endpoints', () => {
  it('healthz and readyz report ok', async () => {
    expect((await t.api.call('GET', '/healthz')).body).toEqual({ status: 'ok' });
    const ready = await t.api.call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.checks.database).toBe('ok');
  });

  it('serves the spec it was built from', async () => {
    const res = await t.api.call('GET', '/openapi.yaml');
    expect(res.text).toBe(readFileSync(specPath, 'utf8'));
  });

  it('exposes Prometheus metrics with route templates, never ids', async () => {
    const admin = await bootstrap(t);
    await t.as(admin.key).call('GET', `/v1/api-keys/${admin.keyId}`);
    const res = await t.api.call('GET', '/metrics');
    expect(res.text).toContain('gcorp_http_requests_total');
    expect(res.text).toContain('route="/v1/api-keys/:id"');
    expect(res.text).not.toContain(admin.keyId);
    expect(res.text).not.toContain(admin.tenantId);
  });
});
