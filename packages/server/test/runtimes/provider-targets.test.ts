// The address rules for a tenant's provider base URL at connect time: the dispatcher a tenant's model call goes through
// refuses private and loopback addresses whether the URL names them directly or a host name resolves to them (a DNS
// answer that changed after the check, a redirect), and lets the operator's allowed CIDRs through.
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { checkProviderTarget, guardedDispatcher } from '../../src/runtimes/providers.js';
import type { WebhookSettings } from '../../src/runtimes/types.js';
import { rejectionOf, startServer, type TestServer } from './helpers.js';

const BASE: WebhookSettings = { allowPrivate: false, timeoutMs: 1000, maxAttempts: 1, maxResponseBytes: 1024 };

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
async function okServer(): Promise<TestServer> {
  const s = await startServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  servers.push(s);
  return s;
}

describe('guardedDispatcher', () => {
  it('refuses to connect to a loopback IP literal; nothing reaches the server', async () => {
    const server = await okServer();
    const err = await rejectionOf(request(server.url, { dispatcher: guardedDispatcher({ ...BASE }) }));
    expect(String((err as Error).message)).toMatch(/loopback/);
    expect(server.requests).toHaveLength(0);
  });

  it('refuses a host name whose DNS answer is a loopback address (checked at connect time)', async () => {
    const server = await okServer();
    const resolve = async () => [{ address: '127.0.0.1', family: 4 }];
    const err = await rejectionOf(
      request(`http://rebound.example.test:${server.port}/`, { dispatcher: guardedDispatcher({ ...BASE, resolve }) }),
    );
    expect(String((err as Error).message)).toMatch(/rebound\.example\.test is a loopback address/);
    expect(server.requests).toHaveLength(0);
  });

  it("connects where the operator's allowed CIDRs cover the address", async () => {
    const server = await okServer();
    const resolve = async () => [{ address: '127.0.0.1', family: 4 }];
    const dispatcher = guardedDispatcher({ ...BASE, resolve, allowedCidrs: ['127.0.0.1/32'] });
    const byName = await request(`http://models.example.test:${server.port}/v1`, { dispatcher });
    expect(byName.statusCode).toBe(200);
    expect(await byName.body.text()).toBe('ok');
    const byAddress = await request(server.url, { dispatcher });
    expect(byAddress.statusCode).toBe(200);
    await byAddress.body.text();
    expect(server.requests).toHaveLength(2);
  });
});

describe('checkProviderTarget', () => {
  it('names the forbidden address, accepts public ones and unresolvable names (checked again per run)', async () => {
    expect(await checkProviderTarget(new URL('https://10.0.0.7/v1'), BASE)).toEqual({ forbidden: { address: '10.0.0.7', reason: 'private' } });
    expect(await checkProviderTarget(new URL('https://[::ffff:127.0.0.1]/'), BASE)).toMatchObject({ forbidden: { reason: 'IPv4-embedded loopback' } });
    expect(await checkProviderTarget(new URL('https://203.0.113.9/'), BASE)).toEqual({});
    const nowhere = async () => {
      throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    };
    expect(await checkProviderTarget(new URL('https://gone.example.test/'), { ...BASE, resolve: nowhere })).toEqual({ unresolved: true });
    expect(await checkProviderTarget(new URL('https://127.0.0.1/'), { ...BASE, allowPrivate: true })).toEqual({});
  });
});
