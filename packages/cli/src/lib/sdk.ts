// The SDK's values gcorp uses, for `await import('./sdk.js')` (types come from '@genericcorp/sdk' directly). One list,
// so that the bundle holds only these and what they need: a namespace import of the whole SDK would also bring in its
// proxy agents, which gcorp never makes (see scripts/build.mjs).
export { GenericCorp, OAuthError, RunWaitTimeoutError, UndiciAgent, VERSION } from '@genericcorp/sdk';
