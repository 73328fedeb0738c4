// Runs: create, list, read, cancel, long-poll wait, and the event feed (SSE, resumable, or a JSON page).
import type { FastifyInstance } from 'fastify';
import { badRequest } from '../http/problem.js';
import { decodeCursor, page } from '../http/pagination.js';
import { parseAfter, type CreateRunInput } from '../runs/service.js';

type IdParams = { id: string };

function encodeSeqCursor(seq: number): string {
  return Buffer.from(JSON.stringify({ s: seq })).toString('base64url');
}
function decodeSeqCursor(cursor: string | undefined): number | null {
  if (!cursor) return null;
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { s?: unknown };
    if (Number.isInteger(v.s) && (v.s as number) >= 0) return v.s as number;
  } catch {
    // fall through
  }
  throw badRequest('The cursor is not one this server issued; start again without it.', [{ field: '/query/cursor', message: 'is not a valid cursor' }], 'invalid_cursor');
}

export async function runsPlugin(app: FastifyInstance): Promise<void> {
  const { router, services } = app.hub;
  const runs = services.runs;
  router.register(app, {
    createRun: async (req, reply) => reply.code(201).send(await runs.create(req.principal!, req.body as CreateRunInput, String(req.id))),

    listRuns: async (req) => {
      const q = req.query as { limit: number; cursor?: string; status?: string; agent?: string; created_after?: string; created_before?: string };
      const data = await runs.list(req.principal!.tenantId, { ...q, after: decodeCursor(q.cursor) });
      return page(data, q.limit);
    },

    getRun: async (req) => runs.get(req.principal!.tenantId, (req.params as IdParams).id),

    cancelRun: async (req, reply) => {
      const { status, run } = await runs.cancel(req.principal!.tenantId, (req.params as IdParams).id);
      return reply.code(status).send(run);
    },

    waitRun: async (req, reply) => {
      const { timeout } = req.query as { timeout: number };
      // The request's stream closes after every request, answered or not: stop listening once the wait is over, so
      // that only a client that goes away while it waits aborts it (an abort builds a DOMException, not free).
      const closed = new AbortController();
      const onClose = () => closed.abort();
      req.raw.once('close', onClose);
      try {
        const { terminal, run } = await runs.wait(req.principal!.tenantId, (req.params as IdParams).id, timeout, closed.signal);
        return reply.code(terminal ? 200 : 202).send(run);
      } finally {
        req.raw.off('close', onClose);
      }
    },

    listRunEvents: async (req, reply) => {
      const tenantId = req.principal!.tenantId;
      const { id } = req.params as IdParams;
      const q = req.query as { after?: number; limit: number; cursor?: string };
      const after = parseAfter(req.headers['last-event-id'] as string | undefined, q.after);
      if (String(req.headers.accept ?? '').includes('application/json')) {
        const from = decodeSeqCursor(q.cursor) ?? after;
        const events = await runs.events(tenantId, id, from, q.limit + 1);
        const data = events.slice(0, q.limit);
        const more = events.length > q.limit;
        return { data, next_cursor: more ? encodeSeqCursor(data[data.length - 1]!.seq) : null };
      }
      await runs.assertExists(tenantId, id);
      // From here on the connection is ours: a text/event-stream that outlives the usual request cycle.
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        ...(reply.getHeaders() as Record<string, string>),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      raw.write('retry: 1000\n\n');
      const closed = new AbortController();
      raw.once('close', () => closed.abort());
      try {
        await runs.stream(
          tenantId,
          id,
          after,
          (e) => raw.write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`),
          () => raw.write(': keep-alive\n\n'),
          closed.signal,
          app.hub.config.sseHeartbeatMs,
        );
      } catch (err) {
        req.log.warn({ err }, 'event stream ended with an error');
      } finally {
        raw.end();
      }
    },
  });
}

