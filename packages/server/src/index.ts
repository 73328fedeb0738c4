// Public entry of @genericcorp/server: start the hub in-process (the CLI's `gcorp server start` uses this).
export { startHub, openHubDatabase, type RunningHub, type StartOptions } from './hub.js';
export { buildApp, type HubContext } from './app.js';
export { loadConfig, ConfigError, DEFAULT_PLANS, type Config, type PlanLimits } from './config.js';
export { ProblemError } from './http/problem.js';
