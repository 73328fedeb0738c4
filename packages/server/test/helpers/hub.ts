// Starts a real hub on a fresh database for one test file; every response the tests read is checked against openapi.yaml.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContractFetch, type ContractFetch } from '@genericcorp/contract';
import { startHub, type RunningHub, type StartOptions } from '../../src/hub.js';
import { createTestDatabase } from './db.js';

export const BOOTSTRAP_TOKEN = 'test-bootstrap-token-0123456789';
export const ADMIN_PASSWORD = 'correct horse battery staple';

export interface TestHub {
  hub: RunningHub;
  url: string;
  api: ContractFetch;
  /** A contract client that sends `Authorization: Bearer <token>`. */
  as(token: string): ContractFetch;
  ownerUrl: string;
  appUrl: string;
  dataDir: string;
  /** Another server process-equivalent (its own app, caches and pool) on the same database. */
  sibling(opts?: StartOptions): Promise<RunningHub>;
  close(): Promise<void>;
}

export async function startTestHub(opts: StartOptions = {}): Promise<TestHub> {
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'gcorp-test-'));
  const base: StartOptions = {
    databaseUrl: database.ownerUrl,
    databaseAppUrl: database.appUrl,
    dataDir,
    port: 0,
    // GCORP_TEST_LOG=debug shows the hub's own logs while debugging a test.
    logger: process.env.GCORP_TEST_LOG ? { level: process.env.GCORP_TEST_LOG } : false,
    bootstrapToken: BOOTSTRAP_TOKEN,
    secretKey: 'test-secret-key-0123456789abcdefghijklmnop',
    ...opts,
  };
  const hub = await startHub(base);
  const siblings: RunningHub[] = [];
  const as = (token: string) => createContractFetch({ baseUrl: hub.url, headers: { authorization: `Bearer ${token}` } });
  return {
    hub,
    url: hub.url,
    api: createContractFetch({ baseUrl: hub.url }),
    as,
    ownerUrl: database.ownerUrl,
    appUrl: database.appUrl,
    dataDir,
    async sibling(extra: StartOptions = {}) {
      const s = await startHub({ ...base, migrate: false, ...extra });
      siblings.push(s);
      return s;
    },
    async close() {
      for (const s of siblings) await s.close();
      await hub.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Tenant {
  tenantId: string;
  userId: string;
  email: string;
  password: string;
  key: string;
  keyId: string;
}

/** Bootstraps the instance: the admin's tenant, the admin and an all-scopes key. */
export async function bootstrap(t: TestHub, email = 'admin@example.com'): Promise<Tenant> {
  const res = await t.api.call('POST', '/v1/bootstrap', {
    body: { bootstrap_token: BOOTSTRAP_TOKEN, admin_email: email, admin_password: ADMIN_PASSWORD, tenant_name: 'Acme' },
  });
  if (res.status !== 201) throw new Error(`bootstrap failed: ${res.status} ${res.text}`);
  return {
    tenantId: res.body.tenant.id,
    userId: res.body.user.id,
    email,
    password: ADMIN_PASSWORD,
    key: res.body.api_key.key,
    keyId: res.body.api_key.id,
  };
}

/** A second tenant created by the instance admin. */
export async function createTenant(t: TestHub, admin: Tenant, name: string, plan = 'pro'): Promise<Tenant> {
  const email = `${name.toLowerCase().replace(/\W+/g, '-')}@example.com`;
  const password = 'another long password 42';
  const res = await t.as(admin.key).call('POST', '/v1/admin/tenants', {
    body: { name, plan, owner_email: email, owner_password: password },
  });
  if (res.status !== 201) throw new Error(`createTenant failed: ${res.status} ${res.text}`);
  return {
    tenantId: res.body.tenant.id,
    userId: res.body.user.id,
    email,
    password,
    key: res.body.api_key.key,
    keyId: res.body.api_key.id,
  };
}

export async function login(t: TestHub, who: Pick<Tenant, 'email' | 'password'>) {
  const res = await t.api.call('POST', '/v1/auth/login', { body: { email: who.email, password: who.password } });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.text}`);
  return res.body as { access_token: string; refresh_token: string; expires_in: number };
}
