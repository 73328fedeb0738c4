// Where gcorp keeps its files: the platform's config folder (as conf and env-paths choose it), or GCORP_CONFIG_DIR.
import { homedir } from 'node:os';
import { join } from 'node:path';

const NAME = 'gcorp';

/** The folder of config.json and, without a keychain, credentials.json. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GCORP_CONFIG_DIR) return env.GCORP_CONFIG_DIR;
  const home = homedir();
  if (process.platform === 'darwin') return join(home, 'Library', 'Preferences', NAME);
  if (process.platform === 'win32') return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), NAME, 'Config');
  return join(env.XDG_CONFIG_HOME ?? join(home, '.config'), NAME);
}

/** The hub's default data directory, as `gcorp server start` picks it (the server package's own rule). */
export function serverDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GCORP_DATA_DIR) return env.GCORP_DATA_DIR;
  // As root, the embedded PostgreSQL runs as the `postgres` user, which cannot enter /root.
  if (process.getuid?.() === 0 && !env.XDG_DATA_HOME) return '/var/lib/gcorp';
  return join(env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), NAME);
}
