// A real hub (@genericcorp/server, as built) on a fresh database for one test file, and its bootstrap.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHub, type RunningHub, type StartOptions } from '@genericcorp/server';
// The server's own helper: a new database on DATABASE_URL's server, or on an embedded PostgreSQL when it is unset.
import { createTestDatabase } from '../../../server/test/helpers/db.js';

export const BOOTSTRAP_TOKEN = 'sdk-test-bootstrap-token-0123456789';
export const ADMIN_EMAIL = 'ada@acme.example';
export const ADMIN_PASSWORD = 'correct horse battery staple';

export interface RealHub {
  url: string;
  hub: RunningHub;
  close(): Promise<void>;
}

export async function startRealHub(options: StartOptions = {}): Promise<RealHub> {
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'gcorp-sdk-test-'));
  let hub: RunningHub;
  try {
    hub = await startHub({
      databaseUrl: database.ownerUrl,
      databaseAppUrl: database.appUrl,
      dataDir,
      port: 0,
      // migrate stays on although createTestDatabase migrated: with REDIS_URL unset the hub also creates BullMQ's
      // PostgreSQL queue schema then, and starting without it starves the event loop.
      logger: process.env.GCORP_TEST_LOG ? { level: process.env.GCORP_TEST_LOG } : false,
      bootstrapToken: BOOTSTRAP_TOKEN,
      secretKey: 'sdk-test-secret-key-0123456789abcdefghijklmnop',
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
    async close() {
      await hub.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
