// The operator-facing deployment artifacts, checked with the tools operators use, offline: the self-host Compose
// template (docker-compose config, Caddy), the server's Dockerfile, the Kubernetes examples (the Kubernetes API
// schemas and types shipped by kubernetes-models), Prometheus configuration and alert rules (promtool check and
// test), the Grafana dashboard, and the /metrics of a real hub (promtool check metrics).
//
// Debian packages these tests need (CI's .ci/run installs them): docker-compose, prometheus (promtool), caddy.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments, stringify as stringifyYaml } from 'yaml';
import { loadConfig } from '../src/config.js';
import { PROVIDER_ENV_VARS } from '../src/runtimes/providers.js';
import { bootstrap, startTestHub, type TestHub } from './helpers/hub.js';

const SERVER_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPO = resolve(SERVER_DIR, '../..');
const SELF_HOST = join(REPO, 'packages/cli/templates/self-host');
const K8S = join(REPO, 'examples/kubernetes');
const DOCKERFILE = join(SERVER_DIR, 'Dockerfile');

/** Metrics the dashboard may query before the hub exports them (usage counters, issue 4). */
const PENDING_METRICS = new Set(['gcorp_usage_runs_total', 'gcorp_usage_tokens_total']);

// ---- helpers ------------------------------------------------------------------------------------------------------

/** Debian package that provides each external tool. */
const TOOL_PACKAGES: Record<string, string> = { 'docker-compose': 'docker-compose', promtool: 'prometheus', caddy: 'caddy' };

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err: NodeJS.ErrnoException) => {
      const pkg = TOOL_PACKAGES[cmd];
      reject(
        err.code === 'ENOENT' && pkg
          ? new Error(`${cmd} is not installed: install the Debian package "${pkg}" (apt-get install -y ${pkg}); CI's .ci/run does`)
          : err,
      );
    });
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs a tool and fails the test with its output unless it exits 0. */
async function runOk(cmd: string, args: string[], opts: Parameters<typeof run>[2] = {}): Promise<RunResult> {
  const res = await run(cmd, args, opts);
  if (res.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${res.code}:\n${res.stdout}\n${res.stderr}`);
  return res;
}

const read = (path: string) => readFileSync(path, 'utf8');
const tempDirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** Every environment variable the server reads: `env.NAME` in config.ts plus the model providers' names. */
function serverEnvNames(): Set<string> {
  const src = read(join(SERVER_DIR, 'src/config.ts'));
  const names = new Set<string>();
  for (const m of src.matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b/g)) names.add(m[1]!);
  for (const m of src.matchAll(/\benv\[['"]([A-Z][A-Z0-9_]*)['"]\]/g)) names.add(m[1]!);
  for (const group of Object.values(PROVIDER_ENV_VARS)) for (const name of Object.values(group)) names.add(name);
  return names;
}
const SERVER_ENV = serverEnvNames();

/** Names that would be hub settings if the server read them: they must be ones it reads. */
const looksLikeHubSetting = (name: string) => /^(GCORP_|DATABASE_|REDIS_URL$|ANTHROPIC_)/.test(name);

function parseDotEnv(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

interface Manifest {
  files: string[];
  env: { template: string; target: string; mode: string };
  secrets: Record<string, string>;
}
const manifest = () => JSON.parse(read(join(SELF_HOST, 'manifest.json'))) as Manifest;

/** What `gcorp self-host init` does: the template files, and .env with every secret placeholder replaced. */
function initSelfHost(): { dir: string; secrets: Record<string, string> } {
  const dir = tempDir('gcorp-selfhost-');
  const m = manifest();
  for (const file of m.files) cpSync(join(SELF_HOST, file), join(dir, file), { recursive: true });
  const secrets = Object.fromEntries(Object.keys(m.secrets).map((name) => [name, randomBytes(32).toString('hex')]));
  const env = read(join(SELF_HOST, m.env.template)).replace(/\$\{([A-Z0-9_]+)\}/g, (_, name: string) => {
    const value = secrets[name];
    if (!value) throw new Error(`env.template has a placeholder \${${name}} that manifest.json's secrets do not list`);
    return value;
  });
  writeFileSync(join(dir, m.env.target), env, { mode: 0o600 });
  return { dir, secrets };
}

/** docker-compose with an environment of its own: no Docker daemon (a socket that does not exist), no shell settings. */
function compose(dir: string, args: string[]): Promise<RunResult> {
  return run('docker-compose', ['-f', 'docker-compose.yml', ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: dir, DOCKER_HOST: 'unix:///nonexistent/docker.sock' },
  });
}

/** The file as docker-compose resolves it (.env interpolated, anchors merged), with the given profiles. */
async function composeConfig(dir: string, ...profiles: string[]): Promise<ComposeFile> {
  const res = await compose(dir, [...profiles.flatMap((p) => ['--profile', p]), 'config']);
  if (res.code !== 0) throw new Error(`docker-compose config exited ${res.code}: ${res.stderr}`);
  return parseYaml(res.stdout) as ComposeFile;
}

type Json = Record<string, unknown>;
interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string | number | null>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  deploy?: { replicas?: number; resources?: Json };
  profiles?: string[];
  ports?: (string | { target: number; published?: string | number; host_ip?: string })[];
  volumes?: (string | { type: string; source: string; target: string })[];
  restart?: string;
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** The hub's services: the ones that run the hub's image. */
function hubServices(file: ComposeFile): [string, ComposeService][] {
  return Object.entries(file.services).filter(([, s]) => s.image?.startsWith('genericcorp/hub'));
}

function envOf(service: ComposeService): Record<string, string> {
  return Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

// ---- Dockerfile helpers -----------------------------------------------------------------------------------------

/** Instructions with their continuation lines joined; comments dropped. */
function instructions(): { op: string; args: string }[] {
  const out: { op: string; args: string }[] = [];
  let current = '';
  for (const raw of read(DOCKERFILE).split('\n')) {
    const line = raw.trim();
    if (!current && (line === '' || line.startsWith('#'))) continue;
    if (current && line.startsWith('#')) continue;
    current += (current ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (line.endsWith('\\')) continue;
    const m = /^(\S+)\s+(.*)$/.exec(current)!;
    out.push({ op: m[1]!.toUpperCase(), args: m[2]! });
    current = '';
  }
  return out;
}

// ---- Kubernetes helpers -------------------------------------------------------------------------------------------

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}
interface K8sDoc {
  file: string;
  obj: K8sObject;
}

function k8sDocs(): K8sDoc[] {
  const docs: K8sDoc[] = [];
  for (const file of readdirSync(K8S).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort()) {
    for (const doc of parseAllDocuments(read(join(K8S, file)))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
      const obj = doc.toJS() as K8sObject | null;
      if (obj) docs.push({ file, obj });
    }
  }
  return docs;
}

/** kubernetes-models' module of a kind: `kubernetes-models/<group/version>/<Kind>` (core: `v1/<Kind>`). */
const modelModule = (o: K8sObject) => `kubernetes-models/${o.apiVersion}/${o.kind}`;

interface PodSpecLike {
  securityContext?: Json;
  initContainers?: ContainerLike[];
  containers: ContainerLike[];
  volumes?: Json[];
  automountServiceAccountToken?: boolean;
}
interface ContainerLike {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Json;
}
const podSpec = (o: K8sObject) => (o.spec as { template: { spec: PodSpecLike } }).template.spec;

function find(docs: K8sDoc[], kind: string, name: string): K8sObject {
  const doc = docs.find((d) => d.obj.kind === kind && d.obj.metadata.name === name);
  if (!doc) throw new Error(`no ${kind} ${name} in examples/kubernetes`);
  return doc.obj;
}

// ---- Prometheus helpers -------------------------------------------------------------------------------------------

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const alertRules = (): AlertRule[] =>
  (parseYaml(read(join(SELF_HOST, 'prometheus/alerts.yml'))) as { groups: { rules: AlertRule[] }[] }).groups.flatMap((g) => g.rules);

/** Grafana's interval variables, replaced so that an expression is plain PromQL. */
const plainPromQL = (expr: string) => expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '5m');

/** gcorp_* metric names an expression queries. */
const metricNamesIn = (expr: string) => [...new Set([...expr.matchAll(/\b(gcorp_[a-z0-9_]+)\b/g)].map((m) => m[1]!))];

interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  templating: { list: { name: string; type: string; query?: string; current?: { value?: string } }[] };
  panels: Panel[];
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: { expr: string; refId: string; datasource?: { type: string; uid: string } }[];
  panels?: Panel[];
}
const dashboard = () => JSON.parse(read(join(SELF_HOST, 'grafana/dashboards/gcorp.json'))) as Dashboard;
const dashboardExprs = (d: Dashboard) => d.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

// =====================================================================================================================

describe('self-host Compose template', () => {
  it('manifest.json lists every template file, and its secrets are exactly the placeholders of env.template', () => {
    const m = manifest();
    const listed = new Set([...m.files, m.env.template, 'manifest.json']);
    const onDisk: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else onDisk.push(relative(SELF_HOST, path));
      }
    };
    walk(SELF_HOST);
    expect(onDisk.sort()).toEqual([...listed].sort());
    expect(m.env.target).toBe('.env');
    expect(m.env.mode).toBe('0600');

    const placeholders = [...read(join(SELF_HOST, m.env.template)).matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((x) => x[1]!);
    expect(new Set(placeholders).size).toBe(placeholders.length);
    expect(placeholders.sort()).toEqual(Object.keys(m.secrets).sort());
    for (const [name, description] of Object.entries(m.secrets)) {
      expect(description.length, `description of secret ${name}`).toBeGreaterThan(10);
      // A placeholder stands alone as the value of its own name: NAME=${NAME}.
      expect(read(join(SELF_HOST, m.env.template))).toMatch(new RegExp(`^${name}=\\$\\{${name}\\}$`, 'm'));
    }
  });

  it('docker-compose accepts it with a filled .env, without a Docker daemon, with and without the monitoring profile', async () => {
    const { dir } = initSelfHost();
    expect(read(join(dir, '.env'))).not.toContain('${');
    for (const args of [['config', '-q'], ['--profile', 'monitoring', 'config', '-q']]) {
      const res = await compose(dir, args);
      expect(res.code, `docker-compose ${args.join(' ')}: ${res.stderr}`).toBe(0);
      // An unset variable is only a warning to docker-compose: here it is an error.
      expect(res.stderr).toBe('');
    }
    // (docker-compose 1.29 lists every service here; which ones a profile gates is checked in the next test.)
    const services = (await compose(dir, ['--profile', 'monitoring', 'config', '--services'])).stdout.trim().split('\n').sort();
    expect(services).toEqual(['api', 'grafana', 'migrate', 'postgres', 'prometheus', 'proxy', 'redis', 'worker']);

    // A broken file is refused: the check is not vacuous.
    writeFileSync(join(dir, 'docker-compose.yml'), read(join(dir, 'docker-compose.yml')).replace('replicas: 2', 'replicas: two'));
    expect((await compose(dir, ['config', '-q'])).code).not.toBe(0);
  });

  it('has PostgreSQL 16 and Redis 7 with health checks, a one-shot migration, 2 API replicas and workers', async () => {
    const { dir, secrets } = initSelfHost();
    const file = await composeConfig(dir, 'monitoring');
    const s = file.services;

    expect(s.postgres!.image).toBe('postgres:16');
    expect(JSON.stringify(s.postgres!.healthcheck!.test)).toContain('pg_isready');
    expect(envOf(s.postgres!).POSTGRES_PASSWORD).toBe(secrets.POSTGRES_PASSWORD);
    expect(s.postgres!.volumes!.map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`)).join()).toContain(
      '/var/lib/postgresql/data',
    );
    expect(s.redis!.image).toBe('redis:7');
    expect(JSON.stringify(s.redis!.healthcheck!.test)).toContain('redis-cli');
    expect(s.redis!.command).toEqual(expect.arrayContaining(['--requirepass', secrets.REDIS_PASSWORD, '--appendonly', 'yes']));

    expect(s.migrate!.command).toEqual(['migrate']);
    expect(s.migrate!.restart).toBe('no');
    expect(s.migrate!.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });

    const waits = {
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
      migrate: { condition: 'service_completed_successfully' },
    };
    for (const name of ['api', 'worker']) {
      const svc = s[name]!;
      expect(svc.depends_on, name).toEqual(waits);
      expect(svc.command!.slice(0, 3), name).toEqual(['start', '--host', '0.0.0.0']);
      expect(JSON.stringify(svc.healthcheck!.test), name).toContain('/readyz');
      expect(svc.deploy!.replicas, name).toBeGreaterThanOrEqual(2);
      expect(svc.restart, name).toBe('unless-stopped');
      expect(svc.ports ?? [], `${name} is reached through the proxy only`).toEqual([]);
    }
    expect(s.api!.deploy!.replicas).toBe(2);
    expect(envOf(s.api!).GCORP_WORKER_CONCURRENCY).toBe('0');
    expect(Number(envOf(s.worker!).GCORP_WORKER_CONCURRENCY)).toBeGreaterThan(0);

    // The proxy is the one published entry point; monitoring binds to loopback only.
    expect(s.proxy!.depends_on).toEqual({ api: { condition: 'service_healthy' } });
    expect(s.proxy!.ports!.length).toBeGreaterThan(0);
    for (const name of ['prometheus', 'grafana']) {
      expect(s[name]!.profiles, name).toEqual(['monitoring']);
      for (const p of s[name]!.ports!) expect(typeof p === 'string' ? p : p.host_ip, name).toMatch(/^127\.0\.0\.1/);
    }
    for (const [name, svc] of Object.entries(s)) {
      if (['prometheus', 'grafana'].includes(name)) continue;
      expect(svc.profiles, `${name} starts without a profile`).toBeUndefined();
    }
    expect(envOf(s.grafana!).GF_SECURITY_ADMIN_PASSWORD).toBe(secrets.GRAFANA_ADMIN_PASSWORD);

    // Every file bind-mounted from the folder is one that init writes.
    const m = manifest();
    for (const svc of Object.values(s)) {
      for (const v of svc.volumes ?? []) {
        const source = typeof v === 'string' ? v.split(':')[0]! : v.type === 'bind' ? v.source : '';
        if (!source.startsWith('/')) continue;
        const rel = relative(dir, source);
        expect(m.files.some((f) => f === rel || f.startsWith(`${rel}/`)), `bind mount ${rel} is written by init`).toBe(true);
      }
    }
  });

  it('passes the hub only settings the server reads, the required ones included, and the hub accepts them', async () => {
    const { dir, secrets } = initSelfHost();
    const file = await composeConfig(dir);
    const hubs = hubServices(file);
    expect(hubs.map(([name]) => name).sort()).toEqual(['api', 'migrate', 'worker']);
    for (const [name, svc] of hubs) {
      const env = envOf(svc);
      const unknown = Object.keys(env).filter((k) => !SERVER_ENV.has(k));
      expect(unknown, `${name} sets variables the server does not read`).toEqual([]);
      for (const required of ['DATABASE_URL', 'GCORP_DB_APP_PASSWORD', 'REDIS_URL', 'GCORP_SECRET_KEY', 'GCORP_BOOTSTRAP_TOKEN']) {
        expect(env[required], `${name}: ${required}`).toBeTruthy();
      }
      expect(env.DATABASE_URL).toBe(`postgres://postgres:${secrets.POSTGRES_PASSWORD}@postgres:5432/gcorp`);
      expect(env.REDIS_URL).toBe(`redis://:${secrets.REDIS_PASSWORD}@redis:6379/0`);
      expect(env.GCORP_SECRET_KEY).toBe(secrets.GCORP_SECRET_KEY);
      // The hub's own configuration loader accepts this environment as it is.
      const config = loadConfig({}, env);
      expect(config.databaseUrl).toBe(env.DATABASE_URL);
      expect(config.redisUrl).toBe(env.REDIS_URL);
      expect(config.databaseAppPassword).toBe(secrets.GCORP_DB_APP_PASSWORD);
      expect(config.port).toBe(4100);
      expect(config.providers).toEqual({});
    }
    expect(loadConfig({}, envOf(file.services.api!)).workerConcurrency).toBe(0);
    expect(loadConfig({}, envOf(file.services.worker!)).workerConcurrency).toBe(8);
  });

  it('every .env name is used by docker-compose.yml, and every variable the file uses is in .env', () => {
    const template = parseDotEnv(read(join(SELF_HOST, 'env.template')));
    const composeText = read(join(SELF_HOST, 'docker-compose.yml'));
    const used = new Set([...composeText.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!));
    // Read by docker-compose itself rather than interpolated.
    const composeOwn = new Set(['COMPOSE_PROJECT_NAME']);
    for (const name of template.keys()) {
      expect(used.has(name) || composeOwn.has(name), `${name} in env.template is used by nothing`).toBe(true);
      if (looksLikeHubSetting(name)) expect(SERVER_ENV.has(name), `${name} is not read by the server`).toBe(true);
    }
    for (const name of used) expect(template.has(name), `docker-compose.yml uses \${${name}}, which env.template lacks`).toBe(true);
  });

  it('Caddy accepts the proxy configuration: round robin over every API replica, /metrics kept private', async () => {
    const { dir } = initSelfHost();
    const file = await composeConfig(dir);
    const env = { PATH: process.env.PATH, HOME: dir, ...envOf(file.services.proxy!) };
    const caddyfile = join(dir, 'caddy/Caddyfile');
    await runOk('caddy', ['validate', '--adapter', 'caddyfile', '--config', caddyfile], { env });
    const adapted = JSON.parse((await runOk('caddy', ['adapt', '--adapter', 'caddyfile', '--config', caddyfile], { env })).stdout) as {
      apps: { http: { servers: Record<string, { listen: string[]; routes: Json[] }> } };
    };
    const server = Object.values(adapted.apps.http.servers)[0]!;
    expect(server.listen).toEqual([':80']);
    const text = JSON.stringify(server.routes);
    expect(text).toContain('"dynamic_upstreams":{"name":"api","port":"4100","refresh"');
    expect(text).toContain('"flush_interval":-1');
    const metricsRoute = server.routes[0] as { match: { path: string[] }[]; handle: { handler: string; status_code: number }[] };
    expect(metricsRoute.match[0]!.path).toEqual(['/metrics']);
    expect(metricsRoute.handle[0]).toMatchObject({ handler: 'static_response', status_code: 404 });
    // The published port maps to where Caddy listens, and the upstream port is where the API replicas listen.
    expect(envOf(file.services.api!).GCORP_PORT).toBe('4100');
    const published = (file.services.proxy!.ports ?? []).map((p) =>
      typeof p === 'string' ? p.replace(/\/tcp$/, '') : `${p.published}:${p.target}`,
    );
    expect(published).toEqual(['4100:80', '4443:443']);

    writeFileSync(caddyfile, read(caddyfile).replace('dynamic a api', 'dynamic aaaa api'));
    expect((await run('caddy', ['validate', '--adapter', 'caddyfile', '--config', caddyfile], { env })).code).not.toBe(0);
  });
});

// =====================================================================================================================

describe('Dockerfile of the server', () => {
  function stages() {
    const list: { name: string; from: string; steps: { op: string; args: string }[] }[] = [];
    for (const ins of instructions()) {
      if (ins.op === 'FROM') {
        const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args)!;
        list.push({ from: m[1]!, name: m[2] ?? '', steps: [] });
      } else list.at(-1)?.steps.push(ins);
    }
    return list;
  }

  it('builds in a node:20-bookworm-slim stage and runs production dependencies and dist as a non-root user', () => {
    const ins = instructions();
    const nodeImage = /^ARG NODE_IMAGE=(\S+)$/.exec(`${ins[0]!.op} ${ins[0]!.args}`)?.[1];
    expect(nodeImage).toBe('node:20-bookworm-slim');
    const [build, runtime, ...rest] = stages();
    expect(rest).toEqual([]);
    expect(build!).toMatchObject({ name: 'build', from: '${NODE_IMAGE}' });
    expect(runtime!).toMatchObject({ name: 'runtime', from: '${NODE_IMAGE}' });

    const buildRuns = build!.steps.filter((s) => s.op === 'RUN').map((s) => s.args);
    expect(buildRuns.some((r) => /^npm ci\b/.test(r) && !r.includes('--omit=dev'))).toBe(true);
    expect(buildRuns.some((r) => r.includes('turbo run build') && r.includes('--filter=@genericcorp/server'))).toBe(true);

    const rt = runtime!.steps;
    const runtimeRuns = rt.filter((s) => s.op === 'RUN').map((s) => s.args);
    expect(runtimeRuns.some((r) => /^npm ci --omit=dev\b/.test(r))).toBe(true);
    // Only built output comes from the build stage, never its node_modules (dev dependencies).
    const fromBuild = rt.filter((s) => s.op === 'COPY' && s.args.startsWith('--from=build'));
    expect(fromBuild.length).toBeGreaterThan(0);
    for (const c of fromBuild) expect(c.args).not.toContain('node_modules');
    expect(fromBuild.map((c) => c.args).join('\n')).toContain('/src/packages/server/dist');

    const user = rt.find((s) => s.op === 'USER')?.args;
    expect(user).toMatch(/^[1-9][0-9]*(:[1-9][0-9]*)?$/); // numeric, so Kubernetes' runAsNonRoot can check it
    const userIndex = rt.findIndex((s) => s.op === 'USER');
    expect(rt.slice(userIndex + 1).some((s) => s.op === 'RUN' || s.op === 'COPY'), 'nothing runs as root after USER').toBe(false);

    const health = rt.find((s) => s.op === 'HEALTHCHECK')?.args ?? '';
    expect(health).toContain('/healthz');
    expect(JSON.parse(rt.find((s) => s.op === 'ENTRYPOINT')!.args)).toEqual(['gcorp-server']);
    expect(JSON.parse(rt.find((s) => s.op === 'CMD')!.args)).toEqual(['start', '--host', '0.0.0.0']);
    expect(rt.find((s) => s.op === 'EXPOSE')?.args).toBe('4100');

    // The gcorp-server link points at the package's bin, which must be runnable through a symlink (shebang).
    const pkg = JSON.parse(read(join(SERVER_DIR, 'package.json'))) as { bin: Record<string, string>; files: string[] };
    expect(pkg.bin['gcorp-server']).toBe('./dist/bin.js');
    expect(runtimeRuns.join('\n')).toContain('ln -s /app/packages/server/dist/bin.js /usr/local/bin/gcorp-server');
    expect(read(join(SERVER_DIR, 'src/bin.ts')).startsWith('#!/usr/bin/env node\n')).toBe(true);

    // The hub settings the image sets are ones the server reads.
    const envNames = rt.filter((s) => s.op === 'ENV').flatMap((s) => [...s.args.matchAll(/([A-Z_][A-Z0-9_]*)=/g)].map((m) => m[1]!));
    expect(envNames.filter(looksLikeHubSetting).sort()).toEqual(['GCORP_DATA_DIR', 'GCORP_HOST', 'GCORP_PORT']);
    for (const name of envNames.filter(looksLikeHubSetting)) expect(SERVER_ENV.has(name), name).toBe(true);
  });

  it('copies every file the runtime needs, from paths that exist and that the build context does not ignore', () => {
    const [build, runtime] = stages();
    const ignore = read(join(SERVER_DIR, 'Dockerfile.dockerignore'))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const toRegex = (pattern: string) =>
      new RegExp(
        '^' +
          pattern
            .split(/(\*\*\/|\*)/)
            .map((part) => (part === '**/' ? '(?:.*/)?' : part === '*' ? '[^/]*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
            .join('') +
          '(?:/.*)?$',
      );
    const ignored = (path: string) => ignore.some((p) => toRegex(p).test(path));
    // The ignore file does its job: the heavy and irrelevant parts of the repository stay out of the context.
    const heavy = ['node_modules/x', 'packages/server/node_modules/x', 'packages/server/dist/bin.js', '.git/HEAD', 'packages/cli/x'];
    for (const path of heavy) expect(ignored(path), path).toBe(true);

    const copied: { stage: string; sources: string[]; dest: string }[] = [];
    for (const stage of [build!, runtime!]) {
      for (const step of stage.steps.filter((s) => s.op === 'COPY' && !s.args.startsWith('--from='))) {
        const parts = step.args.split(/\s+/);
        copied.push({ stage: stage.name, sources: parts.slice(0, -1), dest: parts.at(-1)! });
      }
    }
    for (const { sources } of copied) {
      for (const source of sources) {
        expect(existsSync(join(REPO, source)), `COPY ${source}: not in the repository`).toBe(true);
        expect(ignored(source), `COPY ${source}: excluded by Dockerfile.dockerignore`).toBe(false);
      }
    }
    const sourcesOf = (stage: string) => copied.filter((c) => c.stage === stage).flatMap((c) => c.sources);
    // The workspace packages the server depends on are installed (package.json) and built in the build stage.
    const serverPkg = JSON.parse(read(join(SERVER_DIR, 'package.json'))) as { dependencies: Record<string, string>; files: string[] };
    const workspaceDeps = Object.keys(serverPkg.dependencies).filter((d) => d.startsWith('@genericcorp/'));
    expect(workspaceDeps).toEqual(['@genericcorp/contract']);
    for (const stage of ['build', 'runtime']) {
      for (const pkg of ['contract', 'server']) expect(sourcesOf(stage), stage).toContain(`packages/${pkg}/package.json`);
      expect(sourcesOf(stage), stage).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', '.npmrc']));
    }
    expect(sourcesOf('build')).toEqual(expect.arrayContaining(['packages/contract/src', 'packages/server/src', 'openapi.yaml']));
    // Everything a package publishes ("files") is in the runtime image, from the build stage or the context.
    const runtimeCopies = runtime!.steps.filter((s) => s.op === 'COPY').map((s) => s.args).join('\n');
    for (const pkg of ['contract', 'server']) {
      const files = (JSON.parse(read(join(REPO, 'packages', pkg, 'package.json'))) as { files: string[] }).files;
      for (const f of files) expect(runtimeCopies, `packages/${pkg}/${f}`).toContain(`packages/${pkg}/${f}`);
    }
  });
});

// =====================================================================================================================

describe('Kubernetes examples', () => {
  it('validate against the Kubernetes API schemas (kubernetes-models)', async () => {
    const docs = k8sDocs();
    expect(docs.map((d) => d.obj.kind).sort()).toEqual([
      'ConfigMap',
      'Deployment',
      'Deployment',
      'HorizontalPodAutoscaler',
      'Ingress',
      'Namespace',
      'PodDisruptionBudget',
      'PodDisruptionBudget',
      'Secret',
      'Service',
    ]);
    for (const { file, obj } of docs) {
      const mod = (await import(modelModule(obj))) as Record<string, new (data: unknown) => { validate(): void }>;
      const Model = mod[obj.kind]!;
      expect(() => new Model(obj).validate(), `${file}: ${obj.kind} ${obj.metadata.name}`).not.toThrow();
      expect(obj.metadata.namespace ?? 'gcorp', `${file}: namespace`).toBe('gcorp');
    }
    // The validator is not vacuous: a wrong type and a missing required field are refused.
    const { Deployment } = await import('kubernetes-models/apps/v1/Deployment');
    const api = structuredClone(find(docs, 'Deployment', 'gcorp-api')) as K8sObject & { spec: { replicas: unknown } };
    api.spec.replicas = 'three';
    expect(() => new Deployment(api as never).validate()).toThrow(/replicas/);
    const noPort = structuredClone(find(docs, 'Deployment', 'gcorp-api'));
    delete (podSpec(noPort).containers[0]!.readinessProbe!.httpGet as { port?: unknown }).port;
    expect(() => new Deployment(noPort as never).validate()).toThrow(/port/);
  });

  it('have no field the Kubernetes API does not know (type-checked against the kubernetes-models types)', () => {
    const docs = k8sDocs();
    const check = (objects: K8sObject[]) => {
      const source = objects
        .map((o, i) => {
          const module = modelModule(o);
          return `import type { I${o.kind} as T${i} } from '${module}';\nexport const o${i}: T${i} = ${JSON.stringify(o)};\n`;
        })
        .join('');
      // A virtual file inside this package, so that kubernetes-models resolves from the workspace's node_modules.
      const file = join(SERVER_DIR, 'test', '__k8s_manifests__.ts');
      const options: ts.CompilerOptions = {
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: [],
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
      };
      const host = ts.createCompilerHost(options);
      const { getSourceFile, fileExists, readFile } = host;
      host.getSourceFile = (name, lang, ...rest) =>
        name === file ? ts.createSourceFile(name, source, lang) : getSourceFile.call(host, name, lang, ...rest);
      host.fileExists = (name) => name === file || fileExists.call(host, name);
      host.readFile = (name) => (name === file ? source : readFile.call(host, name));
      const program = ts.createProgram([file], options, host);
      return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    };
    const objects = docs.map((d) => d.obj);
    expect(check(objects)).toEqual([]);
    // A misspelt field is caught (the JSON schemas alone allow unknown fields).
    const typo = structuredClone(find(docs, 'Deployment', 'gcorp-worker'));
    (podSpec(typo).containers[0] as unknown as Json).livenesProbe = podSpec(typo).containers[0]!.livenessProbe;
    expect(check([typo]).join('\n')).toMatch(/livenesProbe/);
  }, 60_000);

  it('run 3 to 10 API pods (HPA at 70% CPU) behind a Service and an Ingress, with disruption budgets', () => {
    const docs = k8sDocs();
    const api = find(docs, 'Deployment', 'gcorp-api') as K8sObject & {
      spec: { replicas: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> } } };
    };
    expect(api.spec.replicas).toBe(3);
    const podLabels = api.spec.template.metadata.labels;
    const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
      Object.entries(selector).every(([k, v]) => labels[k] === v);
    expect(matches(api.spec.selector.matchLabels, podLabels)).toBe(true);

    const hpa = find(docs, 'HorizontalPodAutoscaler', 'gcorp-api') as K8sObject & {
      apiVersion: string;
      spec: { scaleTargetRef: Json; minReplicas: number; maxReplicas: number; metrics: Json[] };
    };
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'gcorp-api' });
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([3, 10]);
    expect(hpa.spec.metrics).toEqual([
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
    ]);

    const service = find(docs, 'Service', 'gcorp-api') as K8sObject & {
      spec: { selector: Record<string, string>; ports: { name: string; port: number; targetPort: string }[] };
    };
    expect(matches(service.spec.selector, podLabels)).toBe(true);
    const worker = find(docs, 'Deployment', 'gcorp-worker') as K8sObject & {
      spec: { template: { metadata: { labels: Record<string, string> } } };
    };
    expect(matches(service.spec.selector, worker.spec.template.metadata.labels), 'workers are not behind the Service').toBe(false);
    const apiPorts = podSpec(api).containers[0]!.ports!;
    expect(apiPorts.map((p) => p.name)).toContain(service.spec.ports[0]!.targetPort);

    const ingress = find(docs, 'Ingress', 'gcorp-api') as K8sObject & {
      spec: { rules: { http: { paths: { path: string; backend: { service: { name: string; port: { name: string } } } }[] } }[] };
    };
    const paths = ingress.spec.rules.flatMap((r) => r.http.paths);
    for (const p of paths) expect(p.backend.service).toEqual({ name: 'gcorp-api', port: { name: service.spec.ports[0]!.name } });
    expect(paths.map((p) => p.path)).toEqual(expect.arrayContaining(['/v1', '/device', '/.well-known', '/openapi.yaml', '/readyz']));
    expect(paths.map((p) => p.path), '/metrics stays inside the cluster').not.toContain('/metrics');
    expect(paths.some((p) => p.path === '/')).toBe(false);

    type Pdb = K8sObject & { spec: { selector: { matchLabels: Record<string, string> }; maxUnavailable?: number } };
    const pdbs = docs.filter((d) => d.obj.kind === 'PodDisruptionBudget').map((d) => d.obj as Pdb);
    expect(pdbs.some((p) => matches(p.spec.selector.matchLabels, podLabels))).toBe(true);
    expect(pdbs.some((p) => matches(p.spec.selector.matchLabels, worker.spec.template.metadata.labels))).toBe(true);
  });

  it('probe /readyz and /healthz, limit resources and run non-root on every hub container; migrations run first', () => {
    const docs = k8sDocs();
    for (const name of ['gcorp-api', 'gcorp-worker']) {
      const spec = podSpec(find(docs, 'Deployment', name));
      expect(spec.securityContext, name).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } });
      expect(spec.automountServiceAccountToken, name).toBe(false);
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        const where = `${name}/${c.name}`;
        expect(c.image, where).toMatch(/^genericcorp\/hub:/);
        expect(c.command, where).toEqual(['gcorp-server']);
        expect(c.resources?.requests?.cpu, where).toBeTruthy();
        expect(c.resources?.requests?.memory, where).toBeTruthy();
        expect(c.resources?.limits?.memory, where).toBeTruthy();
        expect(c.securityContext, where).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(c.envFrom, where).toEqual([{ configMapRef: { name: 'gcorp-config' } }, { secretRef: { name: 'gcorp-secrets' } }]);
      }
      for (const c of spec.containers) {
        expect(c.args!.slice(0, 3), name).toEqual(['start', '--host', '0.0.0.0']);
        expect(c.readinessProbe?.httpGet, name).toEqual({ path: '/readyz', port: 'http' });
        expect(c.livenessProbe?.httpGet, name).toEqual({ path: '/healthz', port: 'http' });
        expect(c.ports, name).toEqual([{ name: 'http', containerPort: 4100, protocol: 'TCP' }]);
      }
      // The data directory is writable though the root filesystem is not.
      const mounts = spec.containers[0] as unknown as { volumeMounts: { mountPath: string }[] };
      expect(mounts.volumeMounts.map((m) => m.mountPath)).toContain('/var/lib/gcorp');
    }
    const api = podSpec(find(docs, 'Deployment', 'gcorp-api'));
    expect(api.initContainers!.map((c) => [c.name, ...c.command!, ...c.args!])).toEqual([['migrate', 'gcorp-server', 'migrate']]);
    const concurrency = (name: string) =>
      podSpec(find(docs, 'Deployment', name)).containers[0]!.env!.find((e) => e.name === 'GCORP_WORKER_CONCURRENCY')?.value;
    expect(concurrency('gcorp-api')).toBe('0');
    expect(Number(concurrency('gcorp-worker'))).toBeGreaterThan(0);
    // The image's user is the one the pods run as.
    expect(read(DOCKERFILE)).toMatch(/^USER 10001:10001$/m);
  });

  it('set only environment variables the server reads, the required ones included, and the hub accepts them', () => {
    const docs = k8sDocs();
    const configMap = find(docs, 'ConfigMap', 'gcorp-config') as K8sObject & { data: Record<string, string> };
    const secret = find(docs, 'Secret', 'gcorp-secrets') as K8sObject & { stringData: Record<string, string> };
    const names = new Set([...Object.keys(configMap.data), ...Object.keys(secret.stringData)]);
    for (const d of docs.filter((x) => x.obj.kind === 'Deployment')) {
      for (const c of [...(podSpec(d.obj).initContainers ?? []), ...podSpec(d.obj).containers]) for (const e of c.env ?? []) names.add(e.name);
    }
    expect([...names].filter((n) => !SERVER_ENV.has(n)), 'names the server does not read').toEqual([]);
    for (const required of ['DATABASE_URL', 'GCORP_DB_APP_PASSWORD', 'REDIS_URL', 'GCORP_SECRET_KEY', 'GCORP_BOOTSTRAP_TOKEN']) {
      expect(Object.keys(secret.stringData), `the Secret holds ${required}`).toContain(required);
    }
    for (const k of Object.keys(configMap.data)) expect(Object.keys(secret.stringData), `${k} is set once`).not.toContain(k);

    const env = { ...configMap.data, ...secret.stringData, GCORP_WORKER_CONCURRENCY: '0' };
    // The placeholders are refused, so a Secret applied unedited cannot start a hub with a guessable key.
    expect(() => loadConfig({}, env)).toThrow(/GCORP_SECRET_KEY must be at least 32 characters/);
    const filled = { ...env, GCORP_SECRET_KEY: randomBytes(32).toString('hex'), GCORP_BOOTSTRAP_TOKEN: randomBytes(32).toString('hex') };
    const config = loadConfig({}, filled);
    expect(config.databaseUrl).toBe(secret.stringData.DATABASE_URL);
    expect(config.redisUrl).toBe(secret.stringData.REDIS_URL);
    expect(config.publicUrl).toBe('https://hub.example.com');
    expect(config.dataDir).toBe('/var/lib/gcorp');
    expect(config.workerConcurrency).toBe(0);
  });

  it('kustomization.yaml lists every manifest, in the namespace they name', () => {
    const k = parseYaml(read(join(K8S, 'kustomization.yaml'))) as {
      kind: string;
      namespace: string;
      resources: string[];
      images: { name: string }[];
    };
    expect(k.kind).toBe('Kustomization');
    expect(k.namespace).toBe('gcorp');
    const files = readdirSync(K8S).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...k.resources].sort()).toEqual(files.sort());
    expect(k.images.map((i) => i.name)).toEqual(['genericcorp/hub']);
  });
});

// =====================================================================================================================

describe('Prometheus and Grafana', () => {
  it('promtool accepts the Prometheus configuration and the alert rules; scrape targets are the compose services', async () => {
    const { dir } = initSelfHost();
    await runOk('promtool', ['check', 'config', join(dir, 'prometheus/prometheus.yml')]);
    const rules = await runOk('promtool', ['check', 'rules', join(dir, 'prometheus/alerts.yml')]);
    expect(rules.stdout).toMatch(/SUCCESS: \d+ rules found/);

    const config = parseYaml(read(join(SELF_HOST, 'prometheus/prometheus.yml'))) as {
      rule_files: string[];
      scrape_configs: { job_name: string; dns_sd_configs?: { names: string[]; type: string; port: number }[] }[];
    };
    expect(config.rule_files).toEqual(['alerts.yml']);
    const jobs = Object.fromEntries(config.scrape_configs.map((j) => [j.job_name, j]));
    expect(jobs['gcorp-api']!.dns_sd_configs).toEqual([{ names: ['api'], type: 'A', port: 4100, refresh_interval: '15s' }]);
    expect(jobs['gcorp-worker']!.dns_sd_configs).toEqual([{ names: ['worker'], type: 'A', port: 4100, refresh_interval: '15s' }]);

    const names = alertRules().map((r) => r.alert);
    expect(names).toEqual(
      expect.arrayContaining(['GcorpHighErrorRate', 'GcorpHighLatencyP99', 'GcorpQueueBacklog', 'GcorpWorkersStalled', 'GcorpWorkersDown']),
    );
    for (const r of alertRules()) {
      expect(r.labels?.severity, r.alert).toMatch(/^(critical|warning)$/);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
    }
  });

  it('the alert rules fire, and stay quiet, on synthetic series (promtool test rules)', async () => {
    const rules = Object.fromEntries(alertRules().map((r) => [r.alert, r]));
    /** The alert's annotations with {{ $value ... }} rendered as `value`. */
    const firing = (alert: string, value: string, labels: Record<string, string> = {}) => ({
      exp_labels: { ...labels, ...rules[alert]!.labels },
      exp_annotations: Object.fromEntries(
        Object.entries(rules[alert]!.annotations ?? {}).map(([k, v]) => [k, v.replace(/\{\{\s*\$value(\s*\|\s*\w+)?\s*\}\}/g, value)]),
      ),
    });
    const req = (status: string, route: string, values: string) => ({
      series: `gcorp_http_requests_total{job="gcorp-api",instance="api-1:4100",method="POST",route="${route}",status="${status}"}`,
      values,
    });
    const buckets = (route: string, counts: Record<string, string>) =>
      ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2', '5', '+Inf'].map((le) => ({
        series: `gcorp_http_request_duration_seconds_bucket{job="gcorp-api",instance="api-1:4100",method="GET",route="${route}",le="${le}"}`,
        values: counts[le] ?? '0x30',
      }));
    const up = (job: string, values: string) => ({ series: `up{job="${job}",instance="${job}-1:4100"}`, values });
    /** [alert name, evaluation time, the alerts expected to fire then] */
    type AlertCase = [string, string, ReturnType<typeof firing>[]];
    const tests: { name: string; input_series: { series: string; values: string }[]; alerts: AlertCase[] }[] = [
      {
        name: 'error rate: 10% server errors fire; health checks do not count',
        input_series: [req('201', '/v1/runs', '0+90x30'), req('500', '/v1/runs', '0+10x30'), req('200', '/healthz', '0+5000x30')],
        alerts: [['GcorpHighErrorRate', '15m', [firing('GcorpHighErrorRate', '10%')]]],
      },
      {
        name: 'error rate: 2% server errors, and failing health checks, stay quiet',
        input_series: [req('201', '/v1/runs', '0+98x30'), req('500', '/v1/runs', '0+2x30'), req('503', '/readyz', '0+50x30')],
        alerts: [['GcorpHighErrorRate', '15m', []]],
      },
      {
        name: 'p99 latency between 2 and 5 s fires',
        input_series: buckets('/v1/runs', { '5': '0+10x30', '+Inf': '0+10x30' }),
        alerts: [['GcorpHighLatencyP99', '15m', [firing('GcorpHighLatencyP99', '4.97s')]]],
      },
      {
        name: 'p99 latency: long-lived event streams and long polls are left out',
        input_series: [
          // Every request of /v1/runs takes 50 to 100 ms.
          ...buckets('/v1/runs', Object.fromEntries(['0.1', '0.25', '0.5', '1', '2', '5', '+Inf'].map((le) => [le, '0+100x30']))),
          ...buckets('/v1/runs/:id/events', { '+Inf': '0+100x30' }),
          ...buckets('/v1/runs/:id/wait', { '+Inf': '0+100x30' }),
        ],
        alerts: [['GcorpHighLatencyP99', '15m', []]],
      },
      {
        name: 'queue backlog over 100 for 10 minutes fires; 50 does not',
        input_series: [{ series: 'gcorp_queue_depth{job="gcorp-api",instance="api-1:4100"}', values: '150x30' }],
        alerts: [['GcorpQueueBacklog', '5m', []], ['GcorpQueueBacklog', '15m', [firing('GcorpQueueBacklog', '150')]]],
      },
      {
        name: 'a small queue is no backlog',
        input_series: [{ series: 'gcorp_queue_depth{job="gcorp-api",instance="api-1:4100"}', values: '50x30' }],
        alerts: [['GcorpQueueBacklog', '15m', []]],
      },
      {
        name: 'queued runs and no run started for 10 minutes: workers stalled',
        input_series: [
          { series: 'gcorp_queue_depth{job="gcorp-worker",instance="worker-1:4100"}', values: '5x40' },
          { series: 'gcorp_runs_started_total{job="gcorp-worker",instance="worker-1:4100"}', values: '7x40' },
          up('gcorp-worker', '1x40'),
        ],
        alerts: [
          ['GcorpWorkersStalled', '25m', [firing('GcorpWorkersStalled', '5')]],
          ['GcorpWorkersDown', '25m', []],
        ],
      },
      {
        name: 'queued runs that workers keep starting are not a stall',
        input_series: [
          { series: 'gcorp_queue_depth{job="gcorp-worker",instance="worker-1:4100"}', values: '5x40' },
          { series: 'gcorp_runs_started_total{job="gcorp-worker",instance="worker-1:4100"}', values: '0+3x40' },
        ],
        alerts: [['GcorpWorkersStalled', '25m', []]],
      },
      {
        name: 'workers that Prometheus cannot reach, or that are gone, are down',
        input_series: [up('gcorp-worker', '1x3 0x20'), up('gcorp-api', '1x20')],
        alerts: [
          ['GcorpWorkersDown', '10m', [firing('GcorpWorkersDown', '0')]],
          ['GcorpApiDown', '10m', []],
        ],
      },
      {
        name: 'no worker target at all is down too',
        input_series: [up('gcorp-api', '1x20')],
        alerts: [['GcorpWorkersDown', '10m', [firing('GcorpWorkersDown', '1', { job: 'gcorp-worker' })]]],
      },
    ];
    const doc = {
      rule_files: ['alerts.yml'],
      evaluation_interval: '1m',
      tests: tests.map((t) => ({
        interval: '1m',
        input_series: t.input_series,
        alert_rule_test: t.alerts.map(([alertname, eval_time, exp_alerts]) => ({ eval_time, alertname, exp_alerts })),
      })),
    };
    const dir = tempDir('gcorp-rules-');
    cpSync(join(SELF_HOST, 'prometheus/alerts.yml'), join(dir, 'alerts.yml'));
    writeFileSync(join(dir, 'alerts.test.yml'), stringifyYaml(doc));
    const res = await run('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: dir });
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    // Every alert is exercised.
    const tested = new Set(tests.flatMap((t) => t.alerts.map(([name]) => name)));
    expect([...tested].sort()).toEqual(Object.keys(rules).sort());
  });

  it('Grafana provisioning points at the compose Prometheus and loads the dashboard folder that compose mounts', async () => {
    const ds = parseYaml(read(join(SELF_HOST, 'grafana/provisioning/datasources/prometheus.yml'))) as {
      datasources: { uid: string; type: string; url: string }[];
    };
    expect(ds.datasources).toHaveLength(1);
    expect(ds.datasources[0]).toMatchObject({ uid: 'gcorp-prometheus', type: 'prometheus', url: 'http://prometheus:9090' });
    const providers = parseYaml(read(join(SELF_HOST, 'grafana/provisioning/dashboards/gcorp.yml'))) as {
      providers: { type: string; options: { path: string } }[];
    };
    const { dir } = initSelfHost();
    const file = await composeConfig(dir, 'monitoring');
    const mounts = (file.services.grafana!.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`));
    expect(mounts).toContain(`${join(dir, 'grafana/dashboards')}:${providers.providers[0]!.options.path}:ro`);
    expect(mounts).toContain(`${join(dir, 'grafana/provisioning')}:/etc/grafana/provisioning:ro`);
    expect(envOf(file.services.grafana!).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(
      `${providers.providers[0]!.options.path}/gcorp.json`,
    );
  });

  it('the dashboard is well-formed: every panel queries the provisioned Prometheus, laid out without overlaps', () => {
    const d = dashboard();
    expect(d.uid).toBe('gcorp-hub');
    expect(d.schemaVersion).toBeGreaterThanOrEqual(36);
    const dsVar = d.templating.list.find((v) => v.type === 'datasource');
    expect(dsVar).toMatchObject({ name: 'datasource', query: 'prometheus', current: { value: 'gcorp-prometheus' } });
    const ids = d.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of d.panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w, p.title).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          expect(cells.has(`${i},${j}`), `${p.title} overlaps another panel`).toBe(false);
          cells.add(`${i},${j}`);
        }
      }
      if (p.type === 'row') continue;
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) {
        expect(t.datasource ?? p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
        expect(t.expr.trim(), p.title).not.toBe('');
      }
    }
  });

  it('the dashboard shows request rate, error rate, latency percentiles, runs by status, queue depth and usage', async () => {
    const exprs = dashboardExprs(dashboard());
    const has = (re: RegExp) => exprs.some((e) => re.test(e.expr.replace(/\s+/g, ' ')));
    expect(has(/rate\(gcorp_http_requests_total\{[^}]*\}\[\$__rate_interval\]\)/)).toBe(true);
    expect(has(/status=~"5\.\."/)).toBe(true);
    for (const q of ['0.5', '0.95', '0.99']) {
      const quantile = `histogram_quantile\\(${q.replace('.', '\\.')}, sum by \\(le\\) \\(rate\\(gcorp_http_request_duration_seconds_bucket`;
      expect(has(new RegExp(quantile)), `p${Number(q) * 100}`).toBe(true);
    }
    expect(has(/sum by \(status\) \(increase\(gcorp_runs_finished_total/)).toBe(true);
    expect(has(/max\(gcorp_queue_depth\)/)).toBe(true);
    expect(has(/gcorp_usage_runs_total/)).toBe(true);
    expect(has(/sum by \(direction\) \(increase\(gcorp_usage_tokens_total/)).toBe(true);

    // Every expression is valid PromQL: promtool parses them as recording rules.
    const dir = tempDir('gcorp-dash-');
    const rules = exprs.map((e, i) => ({ record: `dashboard:expr_${i}`, expr: plainPromQL(e.expr) }));
    const recording = { groups: [{ name: 'dashboard', rules }] };
    writeFileSync(join(dir, 'dashboard-rules.yml'), stringifyYaml(recording));
    const res = await run('promtool', ['check', 'rules', join(dir, 'dashboard-rules.yml')]);
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
  });
});

// =====================================================================================================================

describe('metrics of a running hub', () => {
  let t: TestHub;
  let metricsText = '';

  beforeAll(async () => {
    t = await startTestHub();
    const admin = await bootstrap(t);
    await t.api.call('GET', '/healthz');
    await t.api.call('GET', '/readyz');
    await t.api.call('GET', '/v1/me'); // 401 problem: an error code
    const created = await t.as(admin.key).call('POST', '/v1/runs', { body: { agent: 'echo', input: { message: 'metrics' } } });
    expect(created.status).toBe(201);
    const done = await t.as(admin.key).call('GET', `/v1/runs/${created.body.id}/wait?timeout=20`);
    expect(done.body.status).toBe('succeeded');
    const res = await fetch(`${t.url}/metrics`);
    expect(res.status).toBe(200);
    metricsText = await res.text();
  }, 60_000);
  afterAll(async () => t?.close());

  it('the health checks of the image and of the compose services, and the Kubernetes probes, pass against a hub', async () => {
    const port = new URL(t.url).port;
    const health = instructions().find((i) => i.op === 'HEALTHCHECK')!.args;
    const [cmd, ...args] = JSON.parse(health.slice(health.indexOf('CMD ') + 4)) as string[];
    expect(cmd).toBe('node');
    expect((await run(cmd!, args, { env: { ...process.env, GCORP_PORT: port } })).code).toBe(0);
    // Not vacuous: nothing listens on port 9 (discard) here.
    expect((await run(cmd!, args, { env: { ...process.env, GCORP_PORT: '9' } })).code).toBe(1);

    const file = parseYaml(read(join(SELF_HOST, 'docker-compose.yml')), { merge: true }) as ComposeFile;
    for (const name of ['api', 'worker']) {
      const test = file.services[name]!.healthcheck!.test as string[];
      expect(test.slice(0, 2), name).toEqual(['CMD', 'node']);
      const script = test.at(-1)!;
      expect(script, name).toContain('http://127.0.0.1:4100/');
      expect((await run('node', [...test.slice(2, -1), script.replace(':4100/', `:${port}/`)])).code, name).toBe(0);
    }

    for (const name of ['gcorp-api', 'gcorp-worker']) {
      const c = podSpec(find(k8sDocs(), 'Deployment', name)).containers[0]!;
      for (const probe of [c.readinessProbe!, c.livenessProbe!]) {
        expect((await fetch(`${t.url}${probe.httpGet!.path}`)).status, `${name} ${probe.httpGet!.path}`).toBe(200);
      }
    }
  });

  it('promtool check metrics accepts /metrics', async () => {
    const res = await run('promtool', ['check', 'metrics'], { input: metricsText });
    expect(`${res.stdout}${res.stderr}`.trim(), 'promtool check metrics findings').toBe('');
    expect(res.code).toBe(0);
  });

  it('every metric and label the dashboard and the alert rules query is exported by the hub', () => {
    const families = new Map<string, string>();
    for (const m of metricsText.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(m[1]!, m[2]!);
    const series = new Map<string, Set<string>>();
    for (const [name, type] of families) {
      const names =
        type === 'histogram'
          ? [`${name}_bucket`, `${name}_sum`, `${name}_count`]
          : type === 'summary'
            ? [name, `${name}_sum`, `${name}_count`]
            : [name];
      for (const n of names) series.set(n, new Set());
    }
    for (const m of metricsText.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/gm)) {
      for (const l of m[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) series.get(m[1]!)?.add(l[1]!);
    }
    const own = ['gcorp_http_requests_total', 'gcorp_http_request_duration_seconds_bucket', 'gcorp_http_errors_total'];
    for (const name of [...own, 'gcorp_runs_started_total', 'gcorp_runs_finished_total', 'gcorp_queue_depth']) {
      expect(series.has(name), name).toBe(true);
    }

    const queries = [
      ...dashboardExprs(dashboard()).map((e) => ({ where: `dashboard panel "${e.panel}"`, expr: e.expr })),
      ...alertRules().map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })),
    ];
    const targetLabels = new Set(['job', 'instance']);
    for (const { where, expr } of queries) {
      const names = metricNamesIn(expr);
      for (const name of names) {
        if (PENDING_METRICS.has(name) && !series.has(name)) continue;
        expect(series.has(name), `${where} queries ${name}, which the hub does not export`).toBe(true);
      }
      // Labels in `by (...)` and in selectors exist on the metrics the expression reads.
      const known = new Set([...targetLabels, 'le', ...names.flatMap((n) => [...(series.get(n) ?? [])])]);
      if (names.some((n) => PENDING_METRICS.has(n) && !series.has(n))) continue;
      const used = [
        ...[...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((s) => s.trim())),
        ...[...expr.matchAll(/\{([^}]*)\}/g)].flatMap((m) =>
          [...m[1]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]!),
        ),
      ].filter(Boolean);
      for (const label of used) expect(known.has(label), `${where} uses label ${label}, which no metric it reads has`).toBe(true);
    }
  });
});
