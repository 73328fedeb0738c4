// Login, refresh, logout, and the OAuth device authorization grant with its RFC 8414 metadata.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ProblemError } from '../http/problem.js';
import { DEVICE_GRANT, OAuthError } from '../services/device.js';
import { ALL_SCOPES } from '../services/principal.js';

function oauthError(reply: FastifyReply, err: OAuthError) {
  reply.header('Cache-Control', 'no-store');
  if (err.status === 401) reply.header('WWW-Authenticate', 'Basic realm="gcorp"');
  return reply.code(err.status).send({ error: err.error, error_description: err.description });
}

export async function authPlugin(app: FastifyInstance): Promise<void> {
  const { router, services } = app.hub;
  const base = (req: { protocol: string; host: string }) => app.hub.config.publicUrl ?? `${req.protocol}://${req.host}`;

  router.register(app, {
    getAuthorizationServerMetadata: async (req) => {
      const issuer = base(req);
      return {
        issuer,
        token_endpoint: `${issuer}/v1/auth/token`,
        device_authorization_endpoint: `${issuer}/v1/auth/device/code`,
        grant_types_supported: [DEVICE_GRANT, 'refresh_token'],
        response_types_supported: [],
        token_endpoint_auth_methods_supported: ['none'],
        scopes_supported: [...ALL_SCOPES],
      };
    },

    login: async (req, reply) => {
      const body = req.body as { email: string; password: string; tenant_id?: string };
      const tokens = await services.sessions.login(body.email, body.password, body.tenant_id);
      return reply.header('Cache-Control', 'no-store').send(tokens);
    },

    refreshToken: async (req, reply) => {
      const tokens = await services.sessions.refresh((req.body as { refresh_token: string }).refresh_token);
      return reply.header('Cache-Control', 'no-store').send(tokens);
    },

    logout: async (req, reply) => {
      const body = (req.body ?? {}) as { refresh_token?: string };
      const principal = req.principal!;
      if (body.refresh_token) {
        await services.sessions.logoutByRefreshToken(body.refresh_token);
      } else {
        if (!principal.sessionId) {
          throw new ProblemError(400, 'invalid_request', 'An API key has no session to log out of; send refresh_token, or revoke the key instead.');
        }
        await services.sessions.revokeSession(principal.tenantId, principal.sessionId, 'logout');
      }
      return reply.code(204).send();
    },

  });

  // RFC 6749 5.2 / RFC 8628 3.5: these two answer `{ error, error_description }`, malformed requests included.
  const badRequest = (req: FastifyRequest): OAuthError | undefined => {
    const v = req.validationError;
    if (!v) return undefined;
    const grant = (v as { validation?: { instancePath: string }[] }).validation?.some((i) => i.instancePath === '/grant_type');
    return grant && (req.body as { grant_type?: unknown } | undefined)?.grant_type
      ? new OAuthError('unsupported_grant_type', 'grant_type must be urn:ietf:params:oauth:grant-type:device_code or refresh_token.')
      : new OAuthError('invalid_request', `The request is malformed: ${v.message}`);
  };

  router.register(app, {
    createDeviceCode: async (req, reply) => {
      const invalid = badRequest(req);
      if (invalid) return oauthError(reply, invalid);
      const body = req.body as { client_id: string; scope?: string };
      try {
        const issued = await services.device.issue(body.client_id, body.scope, base(req));
        return reply.header('Cache-Control', 'no-store').send(issued);
      } catch (err) {
        if (err instanceof OAuthError) return oauthError(reply, err);
        throw err;
      }
    },

    exchangeToken: async (req, reply) => {
      const invalid = badRequest(req);
      if (invalid) return oauthError(reply, invalid);
      const body = req.body as { grant_type: string; device_code?: string; refresh_token?: string; client_id?: string };
      try {
        if (body.grant_type === DEVICE_GRANT) {
          if (!body.device_code) throw new OAuthError('invalid_request', 'device_code is required for this grant.');
          const pair = await services.device.exchange(body.device_code, body.client_id ?? '');
          return reply.header('Cache-Control', 'no-store').send(pair);
        }
        if (body.grant_type === 'refresh_token') {
          if (!body.refresh_token) throw new OAuthError('invalid_request', 'refresh_token is required for this grant.');
          try {
            return reply.header('Cache-Control', 'no-store').send(await services.sessions.refresh(body.refresh_token));
          } catch (err) {
            if (err instanceof ProblemError && err.status === 401) throw new OAuthError('invalid_grant', err.detail);
            throw err;
          }
        }
        throw new OAuthError('unsupported_grant_type', `grant_type ${body.grant_type} is not supported.`);
      } catch (err) {
        if (err instanceof OAuthError) return oauthError(reply, err);
        throw err;
      }
    },
  }, { attachValidation: true });
}
