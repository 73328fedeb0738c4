// Sessions (login, refresh, logout) and the OAuth 2.0 device authorization grant (RFC 8628) with a polling helper.
import type { APIPromise } from '../core/api-promise.js';
import { APIConnectionError, OAuthError } from '../core/error.js';
import { APIResource } from '../core/resource.js';
import { sleep } from '../core/retry.js';
import type { Tolerant } from '../core/types.js';
import type { GenericCorp, RequestOptions } from '../client.js';
import type { Schemas, Scope } from './shared.js';

export type LoginParams = Schemas['LoginRequest'];
export type RefreshParams = Schemas['RefreshRequest'];
export type LogoutParams = Schemas['LogoutRequest'];
/** RFC 6749 section 5.1 token response: access token (15 minutes) and single-use refresh token. */
export type TokenResponse = Tolerant<Schemas['TokenResponse']>;
export type AuthorizationServerMetadata = Tolerant<Schemas['AuthorizationServerMetadata']>;
/** Token endpoint parameters (RFC 6749 / RFC 8628), sent form-encoded. */
export type TokenParams = Pick<Schemas['TokenRequest'], 'grant_type' | 'client_id' | 'device_code' | 'refresh_token' | 'scope'>;
export type DeviceCodeResponse = Tolerant<Schemas['DeviceCodeResponse']>;

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** The public client the hub knows (the gcorp CLI). */
export const DEFAULT_CLIENT_ID = 'gcorp-cli';
const SLOW_DOWN_STEP_S = 5;
const MAX_TRANSIENT_POLL_FAILURES = 3;

export interface DeviceStartParams {
  /** Default `gcorp-cli`. */
  clientId?: string;
  /** Narrows the scopes of the resulting tokens (never beyond the user's role). */
  scope?: string | readonly Scope[];
}

/** A started device authorization: show `user_code` and `verification_uri` (or `verification_uri_complete`) to the user. */
export type DeviceAuthorization = DeviceCodeResponse & {
  client_id: string;
  /** When the device code expires (RFC 3339), computed from `expires_in` at the time of the answer. */
  expires_at: string;
};

export interface DevicePendingInfo {
  /** Seconds until the next poll (grows by 5 after each `slow_down`). */
  interval: number;
  expiresAt: Date;
  /** Polls answered so far. */
  polls: number;
  /** Whether the last answer was `slow_down` rather than `authorization_pending`. */
  slowDown: boolean;
}

export interface DevicePollOptions extends Pick<RequestOptions, 'timeout' | 'signal'> {
  /** Called after each poll the user has not decided yet; polling waits for a returned promise. */
  onPending?: (info: DevicePendingInfo) => void | Promise<void>;
}

export class DeviceFlowResource extends APIResource {
  /** `POST /v1/auth/device/code` (RFC 8628 section 3.1). Needs no credential. */
  async start(params: DeviceStartParams = {}, options?: RequestOptions): Promise<DeviceAuthorization> {
    const clientId = params.clientId ?? DEFAULT_CLIENT_ID;
    const scope = typeof params.scope === 'string' || params.scope === undefined ? params.scope : params.scope.join(' ');
    const response = await this._client._call<DeviceCodeResponse>({
      ...options,
      method: 'POST',
      path: '/v1/auth/device/code',
      form: { client_id: clientId, scope },
      auth: 'none',
      errorFormat: 'oauth',
      operation: 'auth.device.start',
    });
    return { ...response, client_id: clientId, expires_at: new Date(Date.now() + response.expires_in * 1000).toISOString() };
  }

  /**
   * Polls the token endpoint until the user approves (tokens), denies (OAuthError `access_denied`) or the code expires
   * (OAuthError `expired_token`). Waits `interval` seconds between polls and 5 more after each `slow_down`, as RFC 8628
   * section 3.5 asks. A few connection errors in a row are tolerated: the code stays valid until it expires.
   */
  async poll(authorization: DeviceAuthorization, options: DevicePollOptions = {}): Promise<TokenResponse> {
    const expiresAt = new Date(authorization.expires_at);
    let interval = Math.max(1, authorization.interval || 5);
    let polls = 0;
    let transientFailures = 0;
    for (;;) {
      if (Date.now() + interval * 1000 >= expiresAt.getTime()) {
        throw new OAuthError('expired_token', 'The device code expired before the user approved it; start again.');
      }
      await sleep(interval * 1000, options.signal);
      try {
        return await this._client.auth.token(
          { grant_type: DEVICE_CODE_GRANT, device_code: authorization.device_code, client_id: authorization.client_id },
          { signal: options.signal, timeout: options.timeout },
        );
      } catch (error) {
        if (error instanceof OAuthError && (error.error === 'authorization_pending' || error.error === 'slow_down')) {
          polls += 1;
          transientFailures = 0;
          const slowDown = error.error === 'slow_down';
          if (slowDown) interval += SLOW_DOWN_STEP_S;
          await options.onPending?.({ interval, expiresAt, polls, slowDown });
          continue;
        }
        if (error instanceof APIConnectionError && ++transientFailures <= MAX_TRANSIENT_POLL_FAILURES) continue;
        throw error;
      }
    }
  }
}

export class AuthResource extends APIResource {
  readonly device: DeviceFlowResource;

  constructor(client: GenericCorp) {
    super(client);
    this.device = new DeviceFlowResource(client);
  }

  /** `POST /v1/auth/login`: access and refresh tokens for a user. Needs no credential. */
  login(body: LoginParams, options?: RequestOptions): APIPromise<TokenResponse> {
    return this._client._call({ ...options, method: 'POST', path: '/v1/auth/login', body, auth: 'none', operation: 'auth.login' });
  }

  /**
   * `POST /v1/auth/refresh`: new tokens; the old refresh token stops working. Retried only when the request cannot
   * have reached the server: the hub does not store Idempotency-Keys of unauthenticated operations, and a refresh
   * token presented twice revokes the whole session.
   */
  refresh(body: RefreshParams, options?: RequestOptions): APIPromise<TokenResponse> {
    return this._client._call({
      ...options,
      method: 'POST',
      path: '/v1/auth/refresh',
      body,
      auth: 'none',
      retry: 'unsent',
      operation: 'auth.refresh',
    });
  }

  /** `POST /v1/auth/logout`: ends the bearer token's session, or the session of `refresh_token`. */
  logout(body?: LogoutParams, options?: RequestOptions): APIPromise<void> {
    return this._client._call({ ...options, method: 'POST', path: '/v1/auth/logout', body, operation: 'auth.logout' });
  }

  /**
   * `POST /v1/auth/token`, the OAuth token endpoint (form-encoded; errors are OAuthError). Not retried once the
   * server may have acted on it: a device code yields tokens once, and a refresh token used twice ends the session.
   */
  token(params: TokenParams, options?: RequestOptions): APIPromise<TokenResponse> {
    return this._client._call({
      ...options,
      method: 'POST',
      path: '/v1/auth/token',
      form: { ...params },
      auth: 'none',
      errorFormat: 'oauth',
      retry: 'unsent',
      operation: 'auth.token',
    });
  }

  /** `GET /.well-known/oauth-authorization-server` (RFC 8414). */
  metadata(options?: RequestOptions): APIPromise<AuthorizationServerMetadata> {
    return this._client._call({
      ...options,
      method: 'GET',
      path: '/.well-known/oauth-authorization-server',
      auth: 'none',
      operation: 'auth.metadata',
    });
  }
}
