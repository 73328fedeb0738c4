// Runs gcorp the way users do: `node bin/run.js …` as a child process, with its own config folder and a clean
// environment (no GCORP_* settings, no D-Bus session, no colour preferences leaking in from the test runner).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(CLI_DIR, 'bin', 'run.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  /** Written to stdin, which is then closed (stdin is always a pipe, never a terminal). */
  input?: string;
  cwd?: string;
  timeoutMs?: number;
}

const SCRUB = /^(GCORP_.*|NODE_ENV|DBUS_SESSION_BUS_ADDRESS|NO_COLOR|FORCE_COLOR|CI|COLUMNS|npm_.*|DISPLAY|WAYLAND_DISPLAY|BROWSER|VITEST.*|TEST)$/;

/** The environment every gcorp child gets: the test's config folder, nothing inherited that changes behaviour. */
export function cliEnv(configDir: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!SCRUB.test(name)) env[name] = value;
  env.GCORP_CONFIG_DIR = configDir;
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

/** A fresh, empty config folder (removed by `cleanup`). */
export function tempDir(prefix = 'gcorp-cli-test-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export class Cli {
  readonly configDir: string;
  #cleanup: () => void;
  readonly env: Record<string, string | undefined>;

  constructor(env: Record<string, string | undefined> = {}) {
    const { dir, cleanup } = tempDir('gcorp-cli-config-');
    this.configDir = dir;
    this.#cleanup = cleanup;
    this.env = env;
  }

  /** Runs `gcorp ...args` to completion. */
  run(args: string[], options: CliOptions = {}): Promise<CliResult> {
    return runCli(args, { ...options, env: { ...cliEnv(this.configDir, this.env), ...options.env } });
  }

  /** Starts `gcorp ...args` and hands back the process, for long-running commands. */
  start(args: string[], options: CliOptions = {}): RunningCli {
    return startCli(args, { ...options, env: { ...cliEnv(this.configDir, this.env), ...options.env } });
  }

  cleanup(): void {
    this.#cleanup();
  }
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const running = startCli(args, options);
  return running.done;
}

export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout or stderr matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  done: Promise<CliResult>;
}

export function startCli(args: string[], options: CliOptions = {}): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? CLI_DIR,
    env: (options.env as NodeJS.ProcessEnv | undefined) ?? cliEnv(tempDir().dir),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const l of listeners) l();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    for (const l of listeners) l();
  });
  child.stdin!.on('error', () => undefined);
  if (options.input !== undefined) child.stdin!.end(options.input);
  else child.stdin!.end();
  const timeoutMs = options.timeoutMs ?? 25_000;
  const done = new Promise<CliResult>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    done,
    waitFor(pattern, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(stdout) ?? pattern.exec(stderr);
          if (match) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve(match);
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`timed out waiting for ${pattern}; stdout: ${stdout}\nstderr: ${stderr}`));
        }, ms);
        listeners.add(check);
        check();
        void done.then(() => {
          if (listeners.has(check)) {
            listeners.delete(check);
            clearTimeout(timer);
            reject(new Error(`gcorp exited before ${pattern}; stdout: ${stdout}\nstderr: ${stderr}`));
          }
        });
      });
    },
  };
}

/** Parses stdout as JSON, with the output in the error when it is not. */
export function json<T = Record<string, unknown>>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}

/** Parses stdout as JSON lines. */
export function jsonLines(result: CliResult): Record<string, unknown>[] {
  return result.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line: ${line}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
      }
    });
}
