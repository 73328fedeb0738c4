// What the self-host commands share: the deployment templates and their manifest.json (which files `init` copies,
// which env template becomes .env, which secrets it gets), fresh secrets, and reading .env files.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { CliError } from '../../lib/errors.js';
import { formatIssues } from '../../lib/validation.js';

/**
 * The templates shipped in the package (templates/self-host/ under `root`, the package's folder: `this.config.root`),
 * or GCORP_SELF_HOST_TEMPLATES (custom templates, tests).
 */
export function templatesDir(root: string): string {
  return process.env.GCORP_SELF_HOST_TEMPLATES || join(root, 'templates', 'self-host');
}

const relativePath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), 'must be a path inside the templates folder');

/** templates/self-host/manifest.json: the contract between the templates and this command. */
const manifestSchema = z.object({
  files: z.array(relativePath).min(1),
  env: z.object({
    template: relativePath,
    target: relativePath.default('.env'),
    mode: z.string().regex(/^0?[0-7]{3}$/, 'must be an octal file mode like 0600').default('0600'),
  }),
  secrets: z.record(z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'must be an environment variable name'), z.string()),
});

export type TemplateManifest = z.infer<typeof manifestSchema>;

/** Reads and checks manifest.json (a broken one is named, field by field). */
export function readTemplateManifest(dir: string): TemplateManifest {
  const file = join(dir, 'manifest.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CliError(`The self-host templates in ${dir} have no readable manifest.json (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`, {
      code: 'templates_invalid',
      title: 'Templates invalid',
      hint: 'Reinstall @genericcorp/cli, or point GCORP_SELF_HOST_TEMPLATES at a templates folder with a manifest.json.',
    });
  }
  const result = manifestSchema.safeParse(parsed);
  if (!result.success) {
    throw new CliError(`${file} is not a valid templates manifest: ${formatIssues(result.error.issues)}.`, { code: 'templates_invalid', title: 'Templates invalid' });
  }
  return result.data;
}

/**
 * A fresh value for each secret: 32 bytes from the OS's CSPRNG as 64 lowercase hex characters (the manifest's format:
 * hex is safe inside connection URLs, and long enough for every secret the hub checks).
 */
export function generateSecrets(names: readonly string[]): Record<string, string> {
  return Object.fromEntries(names.map((name) => [name, randomBytes(32).toString('hex')]));
}

/** Replaces each `${NAME}` of a secret with its value; other `${...}` are left for docker compose. */
export function renderEnvTemplate(text: string, secrets: Record<string, string>): string {
  return text.replace(/\$\{([A-Z][A-Z0-9_]*)\}/g, (whole, name: string) => secrets[name] ?? whole);
}

/** KEY=value lines of a dotenv file (comments and blank lines skipped, surrounding quotes removed). */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    let value = match[2]!;
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) value = value.slice(1, -1);
    out[match[1]!] = value;
  }
  return out;
}

export function readDotenv(file: string): Record<string, string> {
  return parseDotenv(readFileSync(file, 'utf8'));
}
