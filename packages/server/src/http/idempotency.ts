// Idempotency-Key on POST (IETF httpapi-idempotency-key draft): the first response for a key is stored for 24 h and
// replayed for the same request; the same key with another payload is 422; a retry while the first is in flight is
// 409. Keys are scoped to the tenant and the operation, and a unique index holds the line between processes.
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Database } from '../db/database.js';
import { ProblemError } from './problem.js';

const IN_FLIGHT_LEASE_SECONDS = 60;
const REPLAYED_HEADERS = ['content-type', 'location'];

interface IdempotencyState {
  tenantId: string;
  operation: string;
  key: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    idempotency?: IdempotencyState;
  }
}

interface KeyRow {
  fingerprint: string;
  state: 'in_flight' | 'done';
  response_status: number | null;
  response_body: string | null;
  response_headers: Record<string, string> | null;
  lapsed: boolean;
}

/** A stable digest of the request payload: key order in JSON objects does not matter. */
export function fingerprint(body: unknown): string {
  const canonical = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canonical);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return createHash('sha256').update(JSON.stringify(canonical(body ?? null))).digest('hex');
}

export function installIdempotency(app: FastifyInstance, db: Database): void {
  app.addHook('preHandler', async (req: FastifyRequest, reply: FastifyReply) => {
    const key = req.headers['idempotency-key'];
    const op = req.routeOptions.config.operation;
    if (req.method !== 'POST' || typeof key !== 'string' || !op || !req.principal) return;
    const tenantId = req.principal.tenantId;
    const operation = `${op.operationId} ${req.url.split('?')[0]}`;
    const digest = fingerprint(req.body);
    const outcome = await db.tenant(tenantId, async (q) => {
      const inserted = await q.query(
        `insert into idempotency_keys (tenant_id, operation, key, fingerprint, state, locked_until)
         values ($1, $2, $3, $4, 'in_flight', now() + make_interval(secs => $5))
         on conflict (tenant_id, operation, key) do nothing`,
        [tenantId, operation, key, digest, IN_FLIGHT_LEASE_SECONDS],
      );
      if (inserted.rowCount === 1) return 'proceed' as const;
      const res = await q.query<KeyRow>(
        `select fingerprint, state, response_status, response_body, response_headers,
                (expires_at < now() or (state = 'in_flight' and locked_until < now())) as lapsed
           from idempotency_keys where tenant_id = $1 and operation = $2 and key = $3 for update`,
        [tenantId, operation, key],
      );
      const row = res.rows[0]!;
      if (row.lapsed) {
        // Expired, or its first request died mid-flight: this request takes the key over.
        await q.query(
          `update idempotency_keys set fingerprint = $4, state = 'in_flight', response_status = null, response_body = null,
                  response_headers = null, locked_until = now() + make_interval(secs => $5), created_at = now(),
                  expires_at = now() + interval '24 hours'
            where tenant_id = $1 and operation = $2 and key = $3`,
          [tenantId, operation, key, digest, IN_FLIGHT_LEASE_SECONDS],
        );
        return 'proceed' as const;
      }
      if (row.fingerprint !== digest) {
        throw new ProblemError(422, 'idempotency_key_reused', 'This Idempotency-Key was already used with a different request body; use a new key for a new request.');
      }
      if (row.state === 'in_flight') {
        throw new ProblemError(409, 'idempotency_key_in_use', 'A request with this Idempotency-Key is still being processed; retry shortly.', {
          headers: { 'Retry-After': '1' },
        });
      }
      return row;
    });
    if (outcome === 'proceed') {
      req.idempotency = { tenantId, operation, key };
      return;
    }
    for (const [name, value] of Object.entries(outcome.response_headers ?? {})) reply.header(name, value);
    reply.header('Idempotent-Replayed', 'true');
    // The stored body is already serialized: send it as it was, without running the serializer again.
    return reply.code(outcome.response_status ?? 200).serializer((p: unknown) => p as string).send(outcome.response_body ?? '');
  });

  app.addHook('onSend', async (req, reply, payload) => {
    const state = req.idempotency;
    if (!state) return payload;
    req.idempotency = undefined;
    const status = reply.statusCode;
    if (status >= 500 || typeof payload !== 'string') {
      // A server failure is not an answer to remember: free the key so the client's retry runs again.
      await db.tenant(state.tenantId, (q) =>
        q.query('delete from idempotency_keys where tenant_id = $1 and operation = $2 and key = $3', [state.tenantId, state.operation, state.key]),
      );
      return payload;
    }
    const headers: Record<string, string> = {};
    for (const name of REPLAYED_HEADERS) {
      const v = reply.getHeader(name);
      if (v !== undefined) headers[name] = String(v);
    }
    await db.tenant(state.tenantId, (q) =>
      q.query(
        `update idempotency_keys set state = 'done', response_status = $4, response_body = $5, response_headers = $6, locked_until = null
          where tenant_id = $1 and operation = $2 and key = $3`,
        [state.tenantId, state.operation, state.key, status, payload, headers],
      ),
    );
    return payload;
  });

  // A request that failed before onSend (aborted connection) must not leave its key in flight for the whole lease.
  app.addHook('onRequestAbort', async (req) => {
    const state = req.idempotency;
    if (!state) return;
    await db.tenant(state.tenantId, (q) =>
      q.query(`delete from idempotency_keys where tenant_id = $1 and operation = $2 and key = $3 and state = 'in_flight'`, [
        state.tenantId,
        state.operation,
        state.key,
      ]),
    );
  });
}
