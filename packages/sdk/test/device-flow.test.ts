// auth.device: start() and poll() follow RFC 8628: the interval between polls, +5 s after slow_down, pending and
// denial answers, and the code's expiry.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { APIUserAbortError, OAuthError, type DevicePendingInfo, type GenericCorp } from '../src/index.js';
import { contractClient, sendExample, startRawServer, type RawServer, type TestClient } from './helpers/contract.js';

let server: RawServer | undefined;
let t: TestClient | undefined;

afterEach(async () => {
  t?.recorder.assertContract();
  await t?.close();
  await server?.close();
  t = undefined;
  server = undefined;
});

const OAUTH_HEADERS = { 'content-type': 'application/json', 'x-request-id': 'req_oauth', 'cache-control': 'no-store' };

/** A hub whose device code has `interval` and `expiresIn`, and whose token endpoint answers `answers` in turn. */
async function deviceHub(answers: string[], { interval = 1, expiresIn = 900 } = {}): Promise<GenericCorp> {
  let polls = 0;
  server = await startRawServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/v1/auth/device/code') {
      return sendExample(req, res, {
        body: {
          device_code: 'GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS',
          user_code: 'WDJB-MJHT',
          verification_uri: `http://127.0.0.1/device`,
          verification_uri_complete: `http://127.0.0.1/device?user_code=WDJB-MJHT`,
          expires_in: expiresIn,
          interval,
        },
      });
    }
    const answer = answers[Math.min(polls++, answers.length - 1)]!;
    if (answer === 'tokens') return sendExample(req, res);
    res.writeHead(400, OAUTH_HEADERS);
    res.end(JSON.stringify({ error: answer, error_description: `${answer} (test)` }));
  });
  t = contractClient({ baseUrl: server.url, apiKey: null });
  return t.client;
}

function tokenPolls() {
  return server!.requests.filter((r) => r.url === '/v1/auth/token');
}

describe('device authorization grant', () => {
  it('polls every interval until approved, reporting each pending answer', async () => {
    const gc = await deviceHub(['authorization_pending', 'authorization_pending', 'tokens']);
    const authorization = await gc.auth.device.start();
    const pending: DevicePendingInfo[] = [];
    const started = Date.now();
    const tokens = await gc.auth.device.poll(authorization, { onPending: (info) => void pending.push(info) });
    expect(tokens.access_token).toBeTruthy();
    expect(Date.now() - started).toBeGreaterThanOrEqual(3 * 1000 - 50);
    expect(pending.map((p) => [p.polls, p.interval, p.slowDown])).toEqual([
      [1, 1, false],
      [2, 1, false],
    ]);
    expect(tokenPolls()).toHaveLength(3);
    const form = Object.fromEntries(new URLSearchParams(server!.requests.at(-1)!.body));
    expect(form).toEqual({
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      device_code: 'GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS',
      client_id: 'gcorp-cli',
    });
  });

  it('slow_down adds 5 seconds to the interval', async () => {
    const gc = await deviceHub(['slow_down', 'authorization_pending']);
    const authorization = await gc.auth.device.start();
    const controller = new AbortController();
    const pending: DevicePendingInfo[] = [];
    const error = await gc.auth.device
      .poll(authorization, {
        signal: controller.signal,
        onPending: (info) => {
          pending.push(info);
          controller.abort(); // no need to sit through the 6 s wait the server asked for
        },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIUserAbortError);
    expect(pending).toEqual([{ interval: 6, polls: 1, slowDown: true, expiresAt: new Date(authorization.expires_at) }]);
  });

  it('a denial ends polling with OAuthError access_denied', async () => {
    const gc = await deviceHub(['access_denied']);
    const error = await gc.auth.device.poll(await gc.auth.device.start()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toMatchObject({ error: 'access_denied', status: 400, errorDescription: 'access_denied (test)' });
  });

  it('stops with expired_token when the code expires before approval', async () => {
    const gc = await deviceHub(['authorization_pending'], { interval: 1, expiresIn: 2 });
    const error = await gc.auth.device.poll(await gc.auth.device.start()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).error).toBe('expired_token');
    expect((error as OAuthError).message).toMatch(/expired before the user approved it/);
    // One poll only: the next one, an interval later, would come at the code's expiry, so polling stops there.
    expect(tokenPolls()).toHaveLength(1);
  });
});
