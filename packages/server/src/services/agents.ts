// The agent catalog of a tenant: the builtin echo agent, the five shipped templates, and the tenant's own agents.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { Database, Queryable } from '../db/database.js';
import { ProblemError, badRequest, conflict } from '../http/problem.js';
import { newId } from '../ids.js';
import { lookup } from 'node:dns/promises';
import { ECHO_AGENT, TEMPLATE_AGENTS, checkAddress } from '../runtimes/index.js';
import { parseIp } from '../runtimes/ssrf.js';
import type { AgentDefinition } from '../runtimes/types.js';
import { decryptSecret, encryptSecret } from './secrets.js';

const SHIPPED: AgentDefinition[] = [ECHO_AGENT, ...TEMPLATE_AGENTS];
const SHIPPED_BY_NAME = new Map(SHIPPED.map((a) => [a.name, a]));
const SHIPPED_BY_ID = new Map(SHIPPED.map((a) => [a.id, a]));
// Shipped agents exist since the hub does; a fixed date keeps their objects stable.
const SHIPPED_AT = '2026-01-01T00:00:00.000Z';

interface AgentRow {
  id: string;
  name: string;
  description: string;
  runtime: 'model' | 'webhook';
  input_schema: object | null;
  config: Record<string, unknown>;
  secret_enc: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface AgentView {
  id: string;
  name: string;
  description: string;
  kind: 'builtin' | 'template' | 'custom';
  runtime: 'builtin' | 'model' | 'webhook';
  input_schema: object | null;
  config: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

function shippedView(a: AgentDefinition): AgentView {
  return {
    id: a.id,
    name: a.name,
    description: a.description,
    kind: a.kind,
    runtime: a.runtime,
    input_schema: a.input_schema,
    config: publicConfig(a.runtime, a.config),
    created_at: SHIPPED_AT,
    updated_at: SHIPPED_AT,
  };
}

function publicConfig(runtime: string, config: Record<string, unknown>): Record<string, unknown> {
  if (runtime === 'model') {
    return {
      provider: config.provider ?? null,
      model: config.model,
      system_prompt: config.system_prompt ?? '',
      max_tokens: config.max_tokens ?? 4096,
    };
  }
  if (runtime === 'webhook') return config.timeout_seconds ? { url: config.url, timeout_seconds: config.timeout_seconds } : { url: config.url };
  return {};
}

export function agentRowView(r: AgentRow): AgentView {
  return rowView(r);
}

function rowView(r: AgentRow): AgentView {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    kind: 'custom',
    runtime: r.runtime,
    input_schema: r.input_schema,
    config: publicConfig(r.runtime, r.config),
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}

export interface AgentInput {
  name?: string;
  description?: string;
  runtime?: 'model' | 'webhook';
  input_schema?: object | null;
  config?: Record<string, unknown>;
}

const COLUMNS = 'id, name, description, runtime, input_schema, config, secret_enc, created_at, updated_at';

export class AgentService {
  private readonly ajv: Ajv2020;
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(
    private readonly db: Database,
    private readonly dataKey: Buffer,
    private readonly opts: { allowPrivateWebhooks: boolean } = { allowPrivateWebhooks: false },
  ) {
    const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
    this.ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
  }

  async list(tenantId: string, after: string | null, limit: number): Promise<AgentView[]> {
    const rows = await this.db.tenant(tenantId, (q) =>
      q.query<AgentRow>(`select ${COLUMNS} from agents where ($1::text is null or id > $1) order by id limit $2`, [after, limit + 1]),
    );
    const all = [...SHIPPED.map(shippedView).filter((a) => after === null || a.id > after), ...rows.rows.map(rowView)];
    return all.sort((a, b) => (a.id < b.id ? -1 : 1)).slice(0, limit + 1);
  }

  async get(tenantId: string, ref: string): Promise<AgentView> {
    const shipped = SHIPPED_BY_ID.get(ref) ?? SHIPPED_BY_NAME.get(ref);
    if (shipped) return shippedView(shipped);
    const row = await this.db.tenant(tenantId, (q) => this.findRow(q, ref));
    if (!row) throw agentNotFound(ref);
    return rowView(row);
  }

  /** The agent with everything a runtime needs (webhook secrets decrypted); throws 404 agent_not_found. */
  async resolve(q: Queryable, ref: string): Promise<AgentDefinition> {
    const shipped = SHIPPED_BY_ID.get(ref) ?? SHIPPED_BY_NAME.get(ref);
    if (shipped) return shipped;
    const row = await this.findRow(q, ref);
    if (!row) throw agentNotFound(ref);
    const config = { ...row.config };
    if (row.secret_enc) config.signing_secret = decryptSecret(this.dataKey, row.secret_enc);
    return {
      id: row.id,
      name: row.name,
      kind: 'custom',
      runtime: row.runtime,
      description: row.description,
      input_schema: row.input_schema,
      config,
      version: row.updated_at.toISOString(),
    } as AgentDefinition;
  }

  private async findRow(q: Queryable, ref: string): Promise<AgentRow | undefined> {
    const byId = ref.startsWith('agt_');
    const res = await q.query<AgentRow>(`select ${COLUMNS} from agents where ${byId ? 'id' : 'name'} = $1`, [ref]);
    return res.rows[0];
  }

  /** Validates a run's input against the agent's schema; 400 with each failing field. */
  validateInput(agent: AgentDefinition, input: unknown): void {
    if (!agent.input_schema) return;
    const cacheKey = `${agent.id}@${(agent as { version?: string }).version ?? 'shipped'}`;
    let validate = this.validators.get(cacheKey);
    if (!validate) {
      validate = this.ajv.compile(agent.input_schema);
      this.validators.set(cacheKey, validate);
    }
    if (validate(input)) return;
    const errors = (validate.errors ?? []).map((e) => {
      let field = `/body/input${e.instancePath}`;
      if (e.keyword === 'required') field += `/${String(e.params.missingProperty)}`;
      if (e.keyword === 'additionalProperties') field += `/${String(e.params.additionalProperty)}`;
      return { field, message: e.message ?? 'is invalid', code: e.keyword };
    });
    throw badRequest(
      `The input does not fit the input schema of agent ${agent.name}: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}`,
      errors,
      'input_invalid',
    );
  }

  private checkSchema(schema: object | null | undefined): void {
    if (!schema) return;
    try {
      this.ajv.compile(schema);
    } catch (err) {
      throw badRequest(`input_schema is not a valid JSON Schema: ${(err as Error).message}`, [
        { field: '/body/input_schema', message: 'is not a valid JSON Schema' },
      ]);
    }
  }

  private checkConfig(runtime: string, config: Record<string, unknown>, creating: boolean): void {
    const isWebhook = 'url' in config;
    if (runtime === 'webhook' && !isWebhook) {
      throw badRequest('A webhook agent needs config.url.', [{ field: '/body/config/url', message: 'is required' }]);
    }
    if (runtime === 'model' && (isWebhook || typeof config.model !== 'string')) {
      throw badRequest('A model agent needs config.model and no url.', [{ field: '/body/config', message: 'does not fit runtime model' }]);
    }
    if (runtime === 'webhook' && creating && typeof config.signing_secret !== 'string') {
      throw badRequest('A webhook agent needs config.signing_secret to sign deliveries.', [
        { field: '/body/config/signing_secret', message: 'is required' },
      ]);
    }
  }

  /**
   * Refuses a webhook URL that points at a private, loopback or link-local address at once, rather than at the first
   * run. Names that do not resolve now are accepted; every delivery checks the address again (DNS may change).
   */
  private async checkWebhookTarget(runtime: string, config: Record<string, unknown>): Promise<void> {
    if (runtime !== 'webhook' || this.opts.allowPrivateWebhooks || typeof config.url !== 'string') return;
    let host: string;
    try {
      host = new URL(config.url).hostname.replace(/^\[|\]$/g, '');
    } catch {
      return; // the schema's format check reports malformed URLs
    }
    const addresses = parseIp(host)
      ? [host]
      : await lookup(host, { all: true }).then((all) => all.map((a) => a.address)).catch(() => [] as string[]);
    const bad = addresses.map((a) => ({ a, v: checkAddress(a) })).find((x) => x.v.forbidden);
    if (bad) {
      throw badRequest(
        `The webhook URL points at ${bad.a} (${bad.v.reason ?? 'a private address'}); the hub only calls public addresses unless the operator sets GCORP_ALLOW_PRIVATE_WEBHOOKS.`,
        [{ field: '/body/config/url', message: 'targets a private or loopback address' }],
        'webhook_target_forbidden',
      );
    }
  }

  async create(tenantId: string, input: Required<Pick<AgentInput, 'name' | 'runtime' | 'config'>> & AgentInput): Promise<AgentView> {
    if (SHIPPED_BY_NAME.has(input.name)) throw conflict(`${input.name} is a shipped agent's name; choose another.`, 'agent_name_taken');
    this.checkSchema(input.input_schema);
    this.checkConfig(input.runtime, input.config, true);
    const { signing_secret: secret, ...config } = input.config;
    await this.checkWebhookTarget(input.runtime, config);
    const stored = publicConfig(input.runtime, config);
    const row = await this.db
      .tenant(tenantId, (q) =>
        q.query<AgentRow>(
          `insert into agents (id, tenant_id, name, description, runtime, input_schema, config, secret_enc)
           values ($1, $2, $3, $4, $5, $6, $7, $8) returning ${COLUMNS}`,
          [
            newId('agt'),
            tenantId,
            input.name,
            input.description ?? '',
            input.runtime,
            input.input_schema ?? null,
            stored,
            typeof secret === 'string' ? encryptSecret(this.dataKey, secret) : null,
          ],
        ),
      )
      .catch((err) => {
        if ((err as { code?: string }).code === '23505') throw conflict(`An agent named ${input.name} already exists.`, 'agent_name_taken');
        throw err;
      });
    return rowView(row.rows[0]!);
  }

  async update(tenantId: string, ref: string, patch: AgentInput): Promise<AgentView> {
    if (SHIPPED_BY_ID.has(ref) || SHIPPED_BY_NAME.has(ref)) throw readOnly(ref);
    if (patch.name && SHIPPED_BY_NAME.has(patch.name)) throw conflict(`${patch.name} is a shipped agent's name; choose another.`, 'agent_name_taken');
    this.checkSchema(patch.input_schema);
    return this.db
      .tenant(tenantId, async (q) => {
        const row = await this.findRow(q, ref);
        if (!row) throw agentNotFound(ref);
        let config = row.config;
        let secretEnc = row.secret_enc;
        if (patch.config) {
          this.checkConfig(row.runtime, patch.config, false);
          const { signing_secret: secret, ...rest } = patch.config;
          await this.checkWebhookTarget(row.runtime, rest);
          config = publicConfig(row.runtime, rest);
          if (typeof secret === 'string') secretEnc = encryptSecret(this.dataKey, secret);
        }
        const res = await q.query<AgentRow>(
          `update agents set name = $2, description = $3, input_schema = $4, config = $5, secret_enc = $6, updated_at = now()
            where id = $1 returning ${COLUMNS}`,
          [
            row.id,
            patch.name ?? row.name,
            patch.description ?? row.description,
            patch.input_schema === undefined ? row.input_schema : patch.input_schema,
            config,
            secretEnc,
          ],
        );
        return rowView(res.rows[0]!);
      })
      .catch((err) => {
        if ((err as { code?: string }).code === '23505') throw conflict(`An agent named ${patch.name} already exists.`, 'agent_name_taken');
        throw err;
      });
  }

  async remove(tenantId: string, ref: string): Promise<void> {
    if (SHIPPED_BY_ID.has(ref) || SHIPPED_BY_NAME.has(ref)) throw readOnly(ref);
    await this.db.tenant(tenantId, async (q) => {
      const row = await this.findRow(q, ref);
      if (!row) throw agentNotFound(ref);
      await q.query('delete from agents where id = $1', [row.id]);
    });
  }
}

export function agentNotFound(ref: string): ProblemError {
  return new ProblemError(404, 'agent_not_found', `There is no agent ${ref} in this tenant; list them with GET /v1/agents.`);
}

function readOnly(ref: string): ProblemError {
  return new ProblemError(409, 'agent_not_custom', `${ref} ships with the hub and cannot be changed; create your own agent instead.`);
}
