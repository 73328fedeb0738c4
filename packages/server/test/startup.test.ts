import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startHub } from '../src/hub.js';
import { createTestDatabase } from './helpers/db.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'bin.js');

describe('start-up', () => {
  it('refuses to start when its database role could bypass row-level security', async () => {
    const database = await createTestDatabase();
    const dataDir = await mkdtemp(join(tmpdir(), 'gcorp-test-'));
    try {
      await expect(
        startHub({ databaseUrl: database.ownerUrl, databaseAppUrl: database.ownerUrl, dataDir, port: 0, logger: false }),
      ).rejects.toThrow(/bypass|superuser|owns/i);
    } finally {
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('gcorp-server start prints its URL and a one-time bootstrap token kept 0600, and stops cleanly on SIGTERM', async () => {
    const database = await createTestDatabase();
    const dataDir = await mkdtemp(join(tmpdir(), 'gcorp-test-'));
    const env = { ...process.env, DATABASE_URL: database.ownerUrl, DATABASE_APP_URL: database.appUrl, GCORP_LOG_LEVEL: 'warn' };
    delete env.GCORP_BOOTSTRAP_TOKEN;
    const child = spawn(process.execPath, [BIN, 'start', '--port', '0', '--data-dir', dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line; stdout=${out} stderr=${err}`)), 20_000);
        child.stdout.on('data', () => {
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m && /bootstrap token/.test(out)) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
      });
      const token = /bootstrap token[^:]*: (\S+)/.exec(out)![1]!;
      const file = join(dataDir, 'bootstrap-token');
      expect((await readFile(file, 'utf8')).trim()).toBe(token);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect((await stat(join(dataDir, 'secret.key'))).mode & 0o777).toBe(0o600);
      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(200);
      const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
    } finally {
      child.kill('SIGKILL');
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('with no DATABASE_URL it runs its own embedded PostgreSQL in the data directory, and keeps data across restarts', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'gcorp-embedded-'));
    await chmod(dataDir, 0o755); // as root, the embedded PostgreSQL runs as `postgres` and must be able to enter it
    const env: NodeJS.ProcessEnv = { ...process.env, GCORP_LOG_LEVEL: 'warn' };
    delete env.DATABASE_URL;
    delete env.DATABASE_APP_URL;
    delete env.GCORP_BOOTSTRAP_TOKEN;
    const run = async (check: (url: string, out: string) => Promise<void>) => {
      const child = spawn(process.execPath, [BIN, 'start', '--port', '0', '--data-dir', dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      try {
        const url = await new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no listening line; stdout=${out} stderr=${err}`)), 45_000);
          child.stdout.on('data', () => {
            const m = /listening on (http:\/\/\S+)/.exec(out);
            if (m) {
              clearTimeout(timer);
              resolve(m[1]!);
            }
          });
          child.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
        });
        await check(url, out);
        const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
        child.kill('SIGINT');
        expect(await exit).toBe(0);
      } finally {
        child.kill('SIGKILL');
      }
    };
    try {
      let token = '';
      await run(async (url, out) => {
        token = /bootstrap token[^:]*: (\S+)/.exec(out)![1]!;
        const res = await fetch(`${url}/v1/bootstrap`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ bootstrap_token: token, admin_email: 'op@example.com', admin_password: 'operator password 1', tenant_name: 'Ops' }),
        });
        expect(res.status).toBe(201);
      });
      await run(async (url, out) => {
        expect(out).not.toContain('bootstrap token');
        const res = await fetch(`${url}/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: 'op@example.com', password: 'operator password 1' }),
        });
        expect(res.status).toBe(200);
      });
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('a configuration error is one clear line and exit code 2', async () => {
    const child = spawn(process.execPath, [BIN, 'start', '--port', 'not-a-port'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toContain('port');
  });
});
