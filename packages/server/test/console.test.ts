// The web console in a real browser (playwright-core driving Debian's chromium): sign in, usage against quotas, runs
// with live status, API keys, device approval, sign out; and the refusals: wrong password, ended or tampered
// sessions, missing or forged anti-CSRF tokens. Screenshots of every page go to test-artifacts/console/.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import pg from 'pg';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { createContractFetch } from '@genericcorp/contract';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDACT } from '../src/app.js';
import { bootstrap, createTenant, startTestHub, type Tenant, type TestHub } from './helpers/hub.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = resolve(fileURLToPath(new URL('../../../test-artifacts/console/', import.meta.url)));
const GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const BROWSER_TIMEOUT = 90_000;

let t: TestHub;
let admin: Tenant;
let context: BrowserContext;
let page: Page;
let profile: string;
const logLines: string[] = [];
/** Script errors and Content-Security-Policy violations in the browser. */
const pageErrors: string[] = [];
/** Secrets seen during the tests; none may appear in the logs. */
const secrets: string[] = [];

beforeAll(async () => {
  const stream = new Writable({
    write(chunk, _enc, done) {
      logLines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  // A generous refresh reuse grace, so that no test depends on how fast the machine answers.
  t = await startTestHub({ deviceCodeIntervalSeconds: 1, refreshReuseGraceSeconds: 300, logger: { level: 'debug', stream, redact: { paths: REDACT, censor: '[redacted]' } } });
  admin = await bootstrap(t);
  secrets.push(admin.password, admin.key);
  await mkdir(ARTIFACTS, { recursive: true });
  profile = await mkdtemp(join(tmpdir(), 'gcorp-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    viewport: { width: 1280, height: 860 },
    baseURL: t.url,
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(20_000);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    // A failed fetch or page load (the expected 401s) is logged as an error too; anything else is a bug.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(m.text());
  });
}, 120_000);

afterAll(async () => {
  await context?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
  await t?.close();
});

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

/** The console session cookie the browser holds, as a Cookie header value. */
async function browserCookie(): Promise<string> {
  const cookie = (await context.cookies(`${t.url}/console`)).find((c) => c.name === 'gcorp_console');
  expect(cookie, 'the browser holds a console session cookie').toBeTruthy();
  return `gcorp_console=${cookie!.value}`;
}

/** The access token with the same claims, expired an hour ago (as a browser left open would hold it). */
async function expiredCopy(access: string): Promise<string> {
  const claims = JSON.parse(Buffer.from(access.split('.')[1]!, 'base64url').toString('utf8')) as { sub: string; tid: string; sid: string };
  return new SignJWT({ tid: claims.tid, sid: claims.sid })
    .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
    .setSubject(claims.sub)
    .setIssuer('gcorp')
    .setAudience('gcorp-api')
    .setIssuedAt(Math.floor(Date.now() / 1000) - 3600)
    .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
    .sign(t.hub.app.hub.keys.jwt);
}

function cookieFrom(setCookie: string | undefined, name: string): string {
  const m = new RegExp(`(?:^|,\\s*)${name}=([^;]*)`).exec(setCookie ?? '');
  expect(m, `Set-Cookie carries ${name}`).toBeTruthy();
  return `${name}=${m![1]}`;
}

const csrfOf = (htmlText: string) => /name="csrf" value="([^"]+)"/.exec(htmlText)?.[1];

/** Signs in without a browser (the form's CSRF cookie and token, then the post); returns the session Cookie header. */
async function signInByFetch(email: string, password: string): Promise<string> {
  const form = await t.api.call('GET', '/console/login');
  expect(form.status).toBe(200);
  const res = await t.api.call('POST', '/console/login', {
    form: { csrf: csrfOf(form.text)!, email, password },
    headers: { cookie: cookieFrom(form.headers['set-cookie'], 'gcorp_console_csrf') },
  });
  expect(res.status).toBe(303);
  return cookieFrom(res.headers['set-cookie'], 'gcorp_console');
}

async function finish(id: string, key = admin.key) {
  for (let i = 0; i < 30; i++) {
    const res = await t.as(key).call('GET', `/v1/runs/${id}/wait?timeout=10`);
    if (res.status === 200) return res.body;
  }
  throw new Error(`run ${id} did not finish`);
}

async function signInInBrowser(email: string, password: string) {
  await page.goto('/console/login');
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', password);
  const [response] = await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  return response;
}

describe('console: signing in', () => {
  it('sends a visitor without a session to the sign-in page, and back after signing in', async () => {
    const anonymous = await t.api.call('GET', '/console/runs');
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.location).toBe('/console/login?next=%2Fconsole%2Fruns');
    const form = await t.api.call('GET', '/console/login?next=%2Fconsole%2Fruns');
    expect(form.status).toBe(200);
    expect(form.headers['content-security-policy']).toMatch(/script-src 'nonce-[A-Za-z0-9_-]+'/);
    expect(form.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(form.headers['cache-control']).toBe('no-store');
    expect(form.headers['x-frame-options']).toBe('DENY');
    expect(form.headers['set-cookie']).toMatch(/^gcorp_console_csrf=[^;]+; Path=\/console; HttpOnly; SameSite=Strict/);
    // `next` only ever points into the console.
    const evil = await t.api.call('GET', '/console/login?next=https%3A%2F%2Fevil.example%2F');
    expect(evil.text).not.toContain('evil.example');

    await page.goto('/console/runs');
    expect(new URL(page.url()).pathname).toBe('/console/login');
    await expect(page.locator('h1').textContent()).resolves.toBe('Sign in to the console');
    await shot('login');
  }, BROWSER_TIMEOUT);

  it('refuses a wrong password clearly (401) and signs in with the right one', async () => {
    const wrong = await signInInBrowser(admin.email, 'not the password at all');
    expect(wrong?.status()).toBe(401);
    await expect(page.locator('.msg.error').textContent()).resolves.toContain('The email or password is wrong.');
    await expect(page.locator('input[name=email]').inputValue()).resolves.toBe(admin.email);
    await shot('login-wrong-password');

    await page.goto('/console/login?next=%2Fconsole%2Fruns');
    await page.fill('input[name=email]', admin.email);
    await page.fill('input[name=password]', admin.password);
    await Promise.all([page.waitForURL('**/console/runs'), page.click('button[type=submit]')]);
    const cookie = (await context.cookies(`${t.url}/console`)).find((c) => c.name === 'gcorp_console')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/console' });
    const [access, refresh] = decodeURIComponent(cookie.value).split('~');
    secrets.push(access!, refresh!);
    await expect(page.locator('.who .email').textContent()).resolves.toBe(admin.email);
    await expect(page.locator('.tenant').textContent()).resolves.toBe('Acme');
  }, BROWSER_TIMEOUT);
});

describe('console: usage, runs, keys and devices', () => {
  it('shows the usage per day against the quotas', async () => {
    const ids = [];
    for (const i of [1, 2, 3]) {
      const run = await t.as(admin.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: { i, usage: { input_tokens: 100 * i, output_tokens: 50 * i } } } });
      expect(run.status).toBe(201);
      ids.push(run.body.id);
    }
    for (const id of ids) await finish(id);
    const summary = (await t.as(admin.key).call('GET', '/v1/usage/summary')).body;

    await page.goto('/console');
    await expect(page.locator('h1').textContent()).resolves.toBe('Usage');
    // Today is the last bar of the runs chart: three runs, 900 tokens in the tokens chart.
    const charts = page.locator('figure.chart');
    await expect.poll(() => charts.count()).toBe(2);
    await expect.poll(() => charts.nth(0).locator('.bar').count()).toBe(30);
    await expect(charts.nth(0).locator('.bar title').last().textContent()).resolves.toMatch(/: 3 runs$/);
    await expect(charts.nth(1).locator('.bar title').last().textContent()).resolves.toMatch(/: 900 tokens$/);
    await expect(charts.nth(0).locator('.legend').textContent()).resolves.toContain('quota pace');
    const runsQuota = summary.quotas.find((q: { name: string }) => q.name === 'runs_per_period');
    const row = page.locator('tr[data-quota=runs_per_period] td');
    await expect(row.nth(1).textContent()).resolves.toBe(String(runsQuota.used));
    await expect(row.nth(2).textContent()).resolves.toBe(new Intl.NumberFormat('en-US').format(runsQuota.limit));
    await expect(row.nth(3).textContent()).resolves.toBe(new Intl.NumberFormat('en-US').format(runsQuota.remaining));
    await expect(page.locator('tr[data-quota] td:last-child').first().textContent()).resolves.toMatch(/^[A-Z][a-z]{2} 1, \d{4}$/);
    await expect(page.locator('.sub').first().textContent()).resolves.toContain(`Plan ${summary.plan}`);
    await shot('usage');
  }, BROWSER_TIMEOUT);

  it('shows a run going from running to succeeded live, without a reload', async () => {
    await page.goto('/console/runs');
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    await expect.poll(() => page.locator('#runs tbody tr[data-run]').count()).toBe(3);
    const run = await t.as(admin.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: { delay_ms: 4000, message: 'slow' } } });
    expect(run.status).toBe(201);
    const row = page.locator(`#runs tr[data-run="${run.body.id}"]`);
    await row.locator('.badge.s-running').waitFor({ timeout: 10_000 });
    await expect(page.locator('#live').getAttribute('data-state')).resolves.toBe('live');
    await shot('runs-live');
    await row.locator('.badge.s-succeeded').waitFor({ timeout: 15_000 });
    await expect(row.locator('[data-col=duration]').textContent()).resolves.toMatch(/^\d+\.\d s$/);
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    await expect.poll(() => page.locator('#runs tbody tr[data-run]').count()).toBe(4);
    await shot('runs');

    // The filter links narrow the list.
    await page.click('nav.filters a:text("succeeded")');
    await expect.poll(() => page.locator('#runs tbody tr[data-run]').count()).toBe(4);
    await page.goto('/console/runs?status=failed');
    await expect(page.locator('#runs-empty').textContent()).resolves.toContain('No failed runs.');
  }, BROWSER_TIMEOUT);

  it('creates an API key whose secret is shown once and works, then revokes it', async () => {
    await page.goto('/console/keys');
    await expect.poll(() => page.locator('#keys tr[data-key]').count()).toBe(1); // the bootstrap key
    await shot('keys');
    await page.fill('input[name=name]', 'from-the-browser');
    await page.uncheck('input[name=scopes][value="agents:read"]');
    await page.check('input[name=scopes][value="usage:read"]');
    await page.selectOption('select[name=expires_in_days]', '30');
    const [created] = await Promise.all([page.waitForNavigation(), page.click('#create-key button[type=submit]')]);
    expect(created?.status()).toBe(201);
    const secret = await page.locator('#new-key').inputValue();
    secrets.push(secret);
    expect(secret).toMatch(/^gc_live_key_[0-9a-z]{26}_[A-Za-z0-9]{32}$/);
    await expect(page.locator('#created .msg').textContent()).resolves.toContain('it will not be shown again');
    await shot('keys-created');

    const me = await t.as(secret).call('GET', '/v1/me');
    expect(me.status).toBe(200);
    expect([...me.body.scopes].sort()).toEqual(['runs:read', 'runs:write', 'usage:read']);

    // Shown once: the keys page no longer carries it.
    await page.goto('/console/keys');
    expect(await page.content()).not.toContain(secret);
    const keyId = /^gc_live_(key_[0-9a-z]{26})_/.exec(secret)![1]!;
    const row = page.locator(`#keys tr[data-key="${keyId}"]`);
    await expect(row.locator('.badge').textContent()).resolves.toBe('active');

    page.once('dialog', (dialog) => void dialog.accept());
    await Promise.all([page.waitForNavigation(), row.locator('button.danger').click()]);
    await expect(page.locator('.msg.ok').textContent()).resolves.toContain('Key “from-the-browser” revoked');
    await expect(page.locator(`#keys tr[data-key="${keyId}"] .badge`).textContent()).resolves.toBe('revoked');
    await shot('keys-revoked');
    const after = await t.as(secret).call('GET', '/v1/me');
    expect(after.status).toBe(401);
    expect(after.body.code).toBe('api_key_revoked');
  }, BROWSER_TIMEOUT);

  it('approves a device code, and the device then gets tokens', async () => {
    const code = await t.api.call('POST', '/v1/auth/device/code', { form: { client_id: 'gcorp-cli' } });
    expect(code.status).toBe(200);
    await page.goto(`/console/device?user_code=${encodeURIComponent(code.body.user_code)}`);
    await expect(page.locator('input[name=user_code]').inputValue()).resolves.toBe(code.body.user_code);
    await shot('device');
    await Promise.all([page.waitForNavigation(), page.click('button[value=approve]')]);
    await expect(page.locator('.msg.ok').textContent()).resolves.toContain(`Device approved. It is now signed in as ${admin.email} in Acme`);
    await shot('device-approved');

    await new Promise((r) => setTimeout(r, 1100)); // the 1 s polling interval this hub was started with
    const tokens = await t.api.call('POST', '/v1/auth/token', { form: { grant_type: GRANT, device_code: code.body.device_code, client_id: 'gcorp-cli' } });
    expect(tokens.status).toBe(200);
    secrets.push(tokens.body.access_token, tokens.body.refresh_token);
    const me = await t.as(tokens.body.access_token).call('GET', '/v1/me');
    expect(me.body.user.email).toBe(admin.email);
    expect(me.body.tenant.id).toBe(admin.tenantId);

    // A used code cannot be approved again; the form says so.
    await page.goto('/console/device');
    await page.fill('input[name=user_code]', code.body.user_code);
    const [again] = await Promise.all([page.waitForNavigation(), page.click('button[value=deny]')]);
    expect(again?.status()).toBe(400);
    await expect(page.locator('.msg.error').textContent()).resolves.toContain('unknown, already used or expired');
  }, BROWSER_TIMEOUT);

  it('serves every page as the spec describes it, escaping user data', async () => {
    const cookie = await browserCookie();
    const named = await t.as(admin.key).call('POST', '/v1/api-keys', { body: { name: '<script>alert("x")</script>', scopes: ['runs:read'] } });
    secrets.push(named.body.key);
    for (const path of ['/console', '/console/runs', '/console/runs?status=succeeded', '/console/keys', '/console/device']) {
      const res = await t.api.call('GET', path, { headers: { cookie } });
      expect(res.status, path).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      const nonce = /script-src 'nonce-([^']+)'/.exec(res.headers['content-security-policy'] ?? '')?.[1];
      expect(res.text).toContain(`<script nonce="${nonce}">`);
      expect(res.text).not.toContain('<script>alert');
    }
    const keysPage = await t.api.call('GET', '/console/keys', { headers: { cookie } });
    expect(keysPage.text).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    const feed = await t.api.call('GET', '/console/runs.json?limit=2', { headers: { cookie } });
    expect(feed.status).toBe(200);
    expect(feed.body.data).toHaveLength(2);
    expect(feed.body.data[0]).toEqual({
      id: expect.stringMatching(/^run_/),
      agent: 'echo',
      status: 'succeeded',
      created_at: expect.any(String),
      started_at: expect.any(String),
      finished_at: expect.any(String),
      usage: { input_tokens: 0, output_tokens: 0, run_seconds: expect.any(Number) },
    });
    const byId = await t.api.call('GET', `/console/runs.json?ids=${feed.body.data[1].id}`, { headers: { cookie } });
    expect(byId.body.data.map((r: { id: string }) => r.id)).toEqual([feed.body.data[1].id]);
    const noSession = await t.api.call('GET', '/console/runs.json');
    expect(noSession.status).toBe(401);
    expect(noSession.body.code).toBe('session_expired');
    const badCursor = await t.api.call('GET', '/console/runs?cursor=bm9wZQ', { headers: { cookie } });
    expect(badCursor.status).toBe(400);
    expect(badCursor.text).toContain('That page link is not valid any more.');
    await t.as(admin.key).call('DELETE', `/v1/api-keys/${named.body.id}`);
  });

  it('keeps a member, who cannot manage keys, out of the keys page', async () => {
    const member = await t.as(admin.key).call('POST', '/v1/members', { body: { email: 'member@example.com', password: 'a member password 123', role: 'member' } });
    expect(member.status).toBe(201);
    secrets.push('a member password 123');
    const cookie = await signInByFetch('member@example.com', 'a member password 123');
    const usage = await t.api.call('GET', '/console', { headers: { cookie } });
    expect(usage.status).toBe(200);
    expect(usage.text).not.toContain('href="/console/keys"');
    const keys = await t.api.call('GET', '/console/keys', { headers: { cookie } });
    expect(keys.status).toBe(403);
    expect(keys.text).toContain('Your role (member) does not carry the keys:manage scope');
    const csrf = csrfOf(usage.text)!;
    const create = await t.api.call('POST', '/console/keys', { form: { csrf, name: 'sneaky', scopes: 'runs:read' }, headers: { cookie } });
    expect(create.status).toBe(403);
    const list = await t.as(admin.key).call('GET', '/v1/api-keys?limit=100');
    expect(list.body.data.map((k: { name: string }) => k.name)).not.toContain('sneaky');
  });
});

describe('console: refusals', () => {
  it('refuses form posts without a valid anti-CSRF token, and changes nothing', async () => {
    const cookie = await browserCookie();
    const keysBefore = (await t.as(admin.key).call('GET', '/v1/api-keys?limit=100')).body.data.length;
    const code = await t.api.call('POST', '/v1/auth/device/code', { form: { client_id: 'gcorp-cli' } });

    // A token issued to another session of the same person.
    const other = await signInByFetch(admin.email, admin.password);
    const otherToken = csrfOf((await t.api.call('GET', '/console/device', { headers: { cookie: other } })).text)!;
    const valid = csrfOf((await t.api.call('GET', '/console/device', { headers: { cookie } })).text)!;
    const [ts] = valid.split('.');

    for (const csrf of [undefined, '', 'forged', `${ts}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`, otherToken]) {
      const extra: Record<string, string> = csrf === undefined ? {} : { csrf };
      const create = await t.api.call('POST', '/console/keys', { form: { ...extra, name: 'forged', scopes: ['runs:read', 'runs:write'] }, headers: { cookie } });
      expect(create.status, `create with csrf=${String(csrf)}`).toBe(403);
      expect(create.text).toContain('nothing was changed');
      if (csrf === 'forged') {
        // The refusal as the person sees it (the page carries no secret, so it can be shown from here).
        await page.goto('about:blank');
        await page.setContent(create.text);
        await shot('form-refused-csrf');
      }
      const revoke = await t.api.call('POST', '/console/keys/revoke', { form: { ...extra, id: admin.keyId }, headers: { cookie } });
      expect(revoke.status).toBe(403);
      const device = await t.api.call('POST', '/console/device', { form: { ...extra, user_code: code.body.user_code, action: 'approve' }, headers: { cookie } });
      expect(device.status).toBe(403);
      const logout = await t.api.call('POST', '/console/logout', { form: extra, headers: { cookie } });
      expect(logout.status).toBe(403);
    }
    // The sign-in form needs its cookie and token too.
    const form = await t.api.call('GET', '/console/login');
    const noCookie = await t.api.call('POST', '/console/login', { form: { csrf: csrfOf(form.text)!, email: admin.email, password: admin.password } });
    expect(noCookie.status).toBe(403);
    expect(noCookie.headers['set-cookie']).not.toMatch(/gcorp_console=/);

    const keysAfter = await t.as(admin.key).call('GET', '/v1/api-keys?limit=100');
    expect(keysAfter.body.data.length).toBe(keysBefore);
    expect(keysAfter.body.data.find((k: { id: string }) => k.id === admin.keyId).revoked_at).toBeNull();
    const poll = await t.api.call('POST', '/v1/auth/token', { form: { grant_type: GRANT, device_code: code.body.device_code, client_id: 'gcorp-cli' } });
    expect(poll.body.error).toBe('authorization_pending');
    expect((await t.api.call('GET', '/console', { headers: { cookie } })).status).toBe(200); // still signed in

    // The browser's own form, with the token the page gave it, works.
    expect((await t.api.call('POST', '/console/keys', { form: { csrf: valid, name: 'with-token', scopes: 'runs:read' }, headers: { cookie } })).status).toBe(201);
    await page.goto('/console/keys');
    const row = page.locator('#keys tr', { hasText: 'with-token' });
    page.once('dialog', (dialog) => void dialog.accept());
    await Promise.all([page.waitForNavigation(), row.locator('button.danger').click()]);
    await shot('keys-after-csrf');
  }, BROWSER_TIMEOUT);

  it('refreshes an expired access token transparently', async () => {
    const cookie = (await context.cookies(`${t.url}/console`)).find((c) => c.name === 'gcorp_console')!;
    const [access, refresh] = decodeURIComponent(cookie.value).split('~') as [string, string];
    const expired = await expiredCopy(access);
    await context.addCookies([{ ...cookie, value: encodeURIComponent(`${expired}~${refresh}`) }]);
    // Two requests at once with the same expired cookie share one refresh; neither looks like token reuse.
    const both = await Promise.all(
      ['/console', '/console/runs.json'].map((path) => t.api.call('GET', path, { headers: { cookie: `gcorp_console=${encodeURIComponent(`${expired}~${refresh}`)}` } })),
    );
    expect(both.map((r) => r.status)).toEqual([200, 200]);
    const renewed = both.map((r) => cookieFrom(r.headers['set-cookie'], 'gcorp_console'));
    expect(renewed[0]).toBe(renewed[1]);
    await context.addCookies([{ ...cookie, value: renewed[0]!.slice('gcorp_console='.length) }]);
    const [newAccess, newRefresh] = decodeURIComponent(renewed[0]!.slice('gcorp_console='.length)).split('~');
    secrets.push(newAccess!, newRefresh!);
    const res = await page.goto('/console/runs');
    expect(res?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe('/console/runs');
  }, BROWSER_TIMEOUT);

  it('keeps the person signed in when two server processes refresh the same expired cookie at once', async () => {
    // Behind a load balancer, the page and the runs poll may reach two processes, which cannot share one refresh:
    // each exchanges the refresh token, the second within the hub's reuse grace, so neither looks like theft.
    const other = createContractFetch({ baseUrl: (await t.sibling({ workerConcurrency: 0 })).url });
    const cookie = (await context.cookies(`${t.url}/console`)).find((c) => c.name === 'gcorp_console')!;
    const [access, refresh] = decodeURIComponent(cookie.value).split('~') as [string, string];
    const stale = `gcorp_console=${encodeURIComponent(`${await expiredCopy(access)}~${refresh}`)}`;
    const both = await Promise.all([
      t.api.call('GET', '/console', { headers: { cookie: stale } }),
      other.call('GET', '/console/runs.json', { headers: { cookie: stale } }),
    ]);
    expect(both.map((r) => r.status)).toEqual([200, 200]);
    const renewed = both.map((r) => cookieFrom(r.headers['set-cookie'], 'gcorp_console'));
    expect(renewed[0]).not.toBe(renewed[1]);
    for (const value of renewed) {
      const [newAccess, newRefresh] = decodeURIComponent(value.slice('gcorp_console='.length)).split('~');
      secrets.push(newAccess!, newRefresh!);
      // Each process's new cookie works on either process: the session was not revoked.
      expect((await t.api.call('GET', '/console/runs.json', { headers: { cookie: value } })).status).toBe(200);
      expect((await other.call('GET', '/console', { headers: { cookie: value } })).status).toBe(200);
    }
    await context.addCookies([{ ...cookie, value: renewed[1]!.slice('gcorp_console='.length) }]);
    const res = await page.goto('/console/runs');
    expect(res?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe('/console/runs');
  }, BROWSER_TIMEOUT);

  it('sends someone whose session ended or was tampered with back to sign in, with a clear notice', async () => {
    const tampered = await t.api.call('GET', '/console/keys', { headers: { cookie: 'gcorp_console=not-a-token~gcr_nope' } });
    expect(tampered.status).toBe(303);
    expect(tampered.headers.location).toBe('/console/login?next=%2Fconsole%2Fkeys&reason=expired');
    expect(tampered.headers['set-cookie']).toMatch(/^gcorp_console=; Path=\/console; HttpOnly; SameSite=Strict; Max-Age=0/);

    // The session is ended on the server (as `gcorp logout` with its refresh token, or an admin, would).
    const endSession = async () => {
      const cookie = (await context.cookies(`${t.url}/console`)).find((c) => c.name === 'gcorp_console')!;
      const [access, refresh] = decodeURIComponent(cookie.value).split('~') as [string, string];
      expect((await t.as(access).call('POST', '/v1/auth/logout', { body: { refresh_token: refresh } })).status).toBe(204);
      return `gcorp_console=${cookie.value}`;
    };
    await page.goto('/console');
    const ended = await endSession();
    // A form posted with the ended session changes nothing and says why.
    const csrf = csrfOf(await page.content())!;
    const post = await t.api.call('POST', '/console/keys', { form: { csrf, name: 'late', scopes: 'runs:read' }, headers: { cookie: ended } });
    expect(post.status).toBe(401);
    expect(post.text).toContain('Your session has expired or was ended. Sign in again. Nothing was changed.');
    const late = await t.as(admin.key).call('GET', '/v1/api-keys?limit=100');
    expect(late.body.data.map((k: { name: string }) => k.name)).not.toContain('late');

    await page.goto('/console/keys');
    expect(page.url()).toBe(`${t.url}/console/login?next=%2Fconsole%2Fkeys&reason=expired`);
    await expect(page.locator('.msg.error').textContent()).resolves.toBe('Your session has expired or was ended. Sign in again.');
    await shot('login-session-expired');
    // Signing in again returns to the page that was asked for.
    await page.fill('input[name=email]', admin.email);
    await page.fill('input[name=password]', admin.password);
    await Promise.all([page.waitForURL('**/console/keys'), page.click('button[type=submit]')]);

    // With the runs page open, the live updates stop and the page says why.
    await page.goto('/console/runs');
    await endSession();
    await page.locator('#expired').waitFor({ state: 'visible', timeout: 10_000 });
    await expect(page.locator('#live').getAttribute('data-state')).resolves.toBe('expired');
    await shot('runs-session-expired');
    await Promise.all([page.waitForURL('**/console/login?**'), page.click('#expired a')]);
    await expect(page.locator('.msg.error').textContent()).resolves.toBe('Your session has expired or was ended. Sign in again.');
    await page.fill('input[name=email]', admin.email);
    await page.fill('input[name=password]', admin.password);
    await Promise.all([page.waitForURL('**/console/runs'), page.click('button[type=submit]')]);
  }, BROWSER_TIMEOUT);

  it('signs out, ending the session on the server', async () => {
    await page.goto('/console');
    const cookie = await browserCookie();
    await Promise.all([page.waitForNavigation(), page.click('.who button')]);
    await expect(page.locator('.msg.ok').textContent()).resolves.toBe('You have signed out.');
    await shot('signed-out');
    expect((await context.cookies(`${t.url}/console`)).find((c) => c.name === 'gcorp_console')).toBeUndefined();
    const replay = await t.api.call('GET', '/console', { headers: { cookie } });
    expect(replay.status).toBe(303);
    expect(replay.headers.location).toBe('/console/login?reason=expired');
    const [access] = decodeURIComponent(cookie.slice('gcorp_console='.length)).split('~');
    expect((await t.as(access!).call('GET', '/v1/me')).status).toBe(401);
  }, BROWSER_TIMEOUT);

  it('asks a person in several tenants which one to work in', async () => {
    const globex = await createTenant(t, admin, 'Globex');
    secrets.push(globex.password, globex.key);
    const owner = new pg.Client({ connectionString: t.ownerUrl });
    await owner.connect();
    try {
      await owner.query(`insert into memberships (tenant_id, user_id, role) values ($1, $2, 'admin')`, [globex.tenantId, admin.userId]);
    } finally {
      await owner.end();
    }
    const res = await signInInBrowser(admin.email, admin.password);
    expect(res?.status()).toBe(200);
    await expect(page.locator('h1').textContent()).resolves.toBe('Choose a tenant');
    await shot('login-choose-tenant');
    await Promise.all([page.waitForURL('**/console'), page.click('.tenants button:has-text("Globex")')]);
    await expect(page.locator('.tenant').textContent()).resolves.toBe('Globex');
    const me = await t.as(decodeURIComponent((await browserCookie()).slice('gcorp_console='.length)).split('~')[0]!).call('GET', '/v1/me');
    expect(me.body.tenant.id).toBe(globex.tenantId);
    // Signed in to Globex, Acme's keys are out of reach: another tenant's key id is as unknown as a made-up one.
    const cookie = await browserCookie();
    const csrf = csrfOf(await page.content())!;
    for (const id of [admin.keyId, 'key_00000000000000000000000000', 'nonsense']) {
      const res = await t.api.call('POST', '/console/keys/revoke', { form: { csrf, id }, headers: { cookie } });
      expect(res.status, id).toBe(404);
      expect(res.text).toContain(`API key ${id} does not exist`);
    }
    const acmeKey = await t.as(admin.key).call('GET', `/v1/api-keys/${admin.keyId}`);
    expect(acmeKey.body.revoked_at).toBeNull();
    // A forged tenant choice (no valid proof of the password) signs nobody in.
    const form = await t.api.call('GET', '/console/login');
    const forged = await t.api.call('POST', '/console/login', {
      form: { csrf: csrfOf(form.text)!, preauth: `${Date.now().toString(36)}.${admin.userId}.AAAA`, tenant_id: globex.tenantId },
      headers: { cookie: cookieFrom(form.headers['set-cookie'], 'gcorp_console_csrf') },
    });
    expect(forged.status).toBe(401);
    expect(forged.text).toContain('The tenant choice expired');
  }, BROWSER_TIMEOUT);

  it('ran without a script error or a Content-Security-Policy violation in the browser', () => {
    expect(pageErrors).toEqual([]);
  });

  it('never writes a password, token or key secret to the logs', () => {
    expect(logLines.length).toBeGreaterThan(20);
    const all = logLines.join('\n');
    for (const secret of secrets) expect(all).not.toContain(secret);
  });
});
