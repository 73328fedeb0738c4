// A real hub (@genericcorp/server, as built) on a fresh database for one test file, and what the end-to-end tests do
// to it as a person would: approving a device code on the /device page.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHub, type RunningHub, type StartOptions } from '@genericcorp/server';
// The server's own helper: a new database on DATABASE_URL's server, or on an embedded PostgreSQL when it is unset.
import { createTestDatabase } from '../../../server/test/helpers/db.js';

export const BOOTSTRAP_TOKEN = 'cli-test-bootstrap-token-0123456789';
export const ADMIN_EMAIL = 'ada@acme.example';
export const ADMIN_PASSWORD = 'correct horse battery staple';

export interface RealHub {
  url: string;
  hub: RunningHub;
  ownerUrl: string;
  close(): Promise<void>;
}

export async function startRealHub(options: StartOptions = {}): Promise<RealHub> {
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'gcorp-cli-hub-'));
  let hub: RunningHub;
  try {
    hub = await startHub({
      databaseUrl: database.ownerUrl,
      databaseAppUrl: database.appUrl,
      dataDir,
      port: 0,
      logger: process.env.GCORP_TEST_LOG ? { level: process.env.GCORP_TEST_LOG } : false,
      bootstrapToken: BOOTSTRAP_TOKEN,
      secretKey: 'cli-test-secret-key-0123456789abcdefghijklmnop',
      ...options,
    });
  } catch (error) {
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: hub.url,
    hub,
    ownerUrl: database.ownerUrl,
    async close() {
      await hub.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Approves (or denies) a device code the way a person does in the browser: loads /device, takes the form's CSRF
 * field and the cookie that goes with it, and posts the form back.
 */
export async function answerDeviceCode(
  hubUrl: string,
  userCode: string,
  { email = ADMIN_EMAIL, password = ADMIN_PASSWORD, action = 'approve' }: { email?: string; password?: string; action?: 'approve' | 'deny' } = {},
): Promise<{ status: number; html: string }> {
  const page = await fetch(`${hubUrl}/device?user_code=${encodeURIComponent(userCode)}`);
  const html = await page.text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!csrf) throw new Error(`no CSRF field on the /device page: ${html.slice(0, 500)}`);
  const cookie = (page.headers.getSetCookie?.() ?? [page.headers.get('set-cookie') ?? '']).map((c) => c.split(';')[0]).join('; ');
  const form = new URLSearchParams({ csrf, user_code: userCode, email, password, action });
  const res = await fetch(`${hubUrl}/device`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: form,
  });
  return { status: res.status, html: await res.text() };
}
