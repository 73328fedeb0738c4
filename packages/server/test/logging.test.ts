import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDACT } from '../src/app.js';
import { ADMIN_PASSWORD, BOOTSTRAP_TOKEN, bootstrap, login, startTestHub, type Tenant, type TestHub } from './helpers/hub.js';

let t: TestHub;
let admin: Tenant;
const lines: string[] = [];

beforeAll(async () => {
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  t = await startTestHub({ logger: { level: 'trace', stream, redact: { paths: REDACT, censor: '[redacted]' } } });
  admin = await bootstrap(t);
});
afterAll(async () => t?.close());

describe('logs', () => {
  it('are JSON lines with request ids and never contain a secret', async () => {
    const tokens = await login(t, admin);
    await t.as(tokens.access_token).call('GET', '/v1/me');
    await t.api.call('POST', '/v1/auth/refresh', { body: { refresh_token: tokens.refresh_token } });
    const key = await t.as(admin.key).call('POST', '/v1/api-keys', { body: { name: 'log-test', scopes: ['runs:read'] } });
    await t.as(key.body.key).call('GET', '/v1/me');
    await t.as(admin.key).call('POST', '/v1/agents', {
      body: { name: 'hooked', runtime: 'webhook', config: { url: 'https://hooks.example.com/a', signing_secret: 'whsec_supersecret_value_1234' } },
    });
    await t.api.call('POST', '/v1/auth/login', { body: { email: admin.email, password: 'a wrong password value' } });
    // A request that fails validation logs its problem; the body it carried must not appear.
    await t.api.call('POST', '/v1/bootstrap', { body: { bootstrap_token: BOOTSTRAP_TOKEN, admin_password: ADMIN_PASSWORD } });

    expect(lines.length).toBeGreaterThan(10);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(lines.some((l) => JSON.parse(l).reqId)).toBe(true);
    const all = lines.join('\n');
    for (const secret of [
      admin.key,
      key.body.key,
      tokens.access_token,
      tokens.refresh_token,
      ADMIN_PASSWORD,
      'a wrong password value',
      BOOTSTRAP_TOKEN,
      'whsec_supersecret_value_1234',
    ]) {
      expect(all).not.toContain(secret);
    }
  });
});
