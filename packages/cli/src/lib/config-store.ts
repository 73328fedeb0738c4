// Profiles in the platform's config folder (conf): each names a hub, its tenant, who is logged in and where that
// credential is kept. Never a secret: those live in the keychain or credentials.json (credentials.ts).
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import type Conf from 'conf';
import { z } from 'zod';
import { CliError } from './errors.js';
import type { Output } from './output.js';
import { configDir } from './paths.js';
import { PROFILE_NAME } from './profile-name.js';
import { formatIssues } from './validation.js';


const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });

const profileSchema = z.object({
  server: httpUrl,
  tenant: z.object({ id: z.string(), name: z.string() }).nullable().optional(),
  /** Who the stored credential is, for display: an email, or `key <name> (<id>)`. */
  principal: z.string().optional(),
  /** Which credential `login` stored and where; the secret itself is not here. */
  credential: z
    .object({
      kind: z.enum(['api_key', 'session', 'access_token']),
      storage: z.enum(['keychain', 'file']),
    })
    .optional(),
});

const configSchema = z.object({
  current_profile: z.string().regex(PROFILE_NAME, 'must be a profile name').optional(),
  profiles: z.record(z.string().regex(PROFILE_NAME, 'must be a profile name'), profileSchema).optional(),
  /** One-time notices already shown (the file-storage warning). */
  notices: z.record(z.string(), z.boolean()).optional(),
});

export type Profile = z.infer<typeof profileSchema>;
export type ConfigData = z.infer<typeof configSchema>;

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

export class ConfigStore {
  readonly path: string;
  #conf: Conf<ConfigData>;
  #data: ConfigData;

  private constructor(conf: Conf<ConfigData>, data: ConfigData) {
    this.#conf = conf;
    this.path = conf.path;
    this.#data = data;
  }

  /**
   * Opens config.json. A file that is not JSON, or not a valid configuration, is kept aside as a backup and a clean
   * configuration starts, with a warning that says so: a broken file never blocks the CLI.
   */
  static async open(out: Output): Promise<ConfigStore> {
    const { default: ConfClass } = await import('conf');
    const dir = configDir();
    const file = join(dir, 'config.json');
    const make = () =>
      new ConfClass<ConfigData>({
        cwd: dir,
        configName: 'config',
        accessPropertiesByDotNotation: false,
        configFileMode: 0o600,
      });
    const setAside = (reason: string): void => {
      const backup = `${file}.corrupt-${timestamp()}`;
      try {
        renameSync(file, backup);
      } catch (err) {
        throw new CliError(`The config file ${file} is ${reason}, and it could not be moved aside: ${(err as Error).message}.`, {
          code: 'config_unreadable',
          title: 'Corrupt configuration',
          hint: `Move or delete ${file} and try again.`,
        });
      }
      out.warn(`the config file ${file} is ${reason}; kept it as ${backup} and started with a clean configuration (log in again with \`gcorp login\`).`);
    };

    let conf: Conf<ConfigData>;
    try {
      conf = make();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.name !== 'SyntaxError') {
        throw new CliError(`Cannot use the config file ${file}: ${e.message}.`, {
          code: 'config_unreadable',
          title: 'Configuration unreadable',
          hint: `Check the permissions of ${dir}, or point GCORP_CONFIG_DIR at another folder.`,
        });
      }
      setAside(`not valid JSON (${e.message})`);
      conf = make();
    }
    const parsed = configSchema.safeParse(conf.store);
    if (parsed.success) return new ConfigStore(conf, parsed.data);
    setAside(`not a valid gcorp configuration (${formatIssues(parsed.error.issues)})`);
    conf = make();
    return new ConfigStore(conf, {});
  }

  get currentProfileName(): string | undefined {
    return this.#data.current_profile;
  }

  profile(name: string): Profile | undefined {
    return this.#data.profiles?.[name];
  }

  get profileNames(): string[] {
    return Object.keys(this.#data.profiles ?? {}).sort();
  }

  setProfile(name: string, profile: Profile): void {
    const profiles = { ...this.#data.profiles, [name]: profileSchema.parse(profile) };
    this.#data = { ...this.#data, profiles };
    this.#conf.set('profiles', profiles);
  }

  /** Forgets who is logged in to a profile, keeping its server. */
  clearCredential(name: string): void {
    const existing = this.profile(name);
    if (!existing) return;
    const { credential: _credential, principal: _principal, tenant: _tenant, ...rest } = existing;
    this.setProfile(name, rest);
  }

  setCurrentProfile(name: string): void {
    this.#data = { ...this.#data, current_profile: name };
    this.#conf.set('current_profile', name);
  }

  noticeShown(key: string): boolean {
    return this.#data.notices?.[key] === true;
  }

  markNoticeShown(key: string): void {
    const notices = { ...this.#data.notices, [key]: true };
    this.#data = { ...this.#data, notices };
    this.#conf.set('notices', notices);
  }
}
