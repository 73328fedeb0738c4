// Spinner and colour on a terminal only: the same command in a pseudo-terminal (script(1)) animates and colours, in a
// pipe prints plain status lines; NO_COLOR turns both off on a terminal, FORCE_COLOR forces colour (not animation).
import { spawn } from 'node:child_process';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BIN, Cli, cliEnv } from './helpers/cli.js';
import { TEST_KEY, startMockHub, type MockHub } from './helpers/mock-hub.js';

let hub: MockHub;
let cli: Cli;

const ESC = '\u001b[';
const SPINNER_FRAMES = /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/;

beforeAll(async () => {
  hub = await startMockHub({
    // A run that takes a while to finish, so that there is something to animate.
    waitRun: async ({ exampleResponse }) => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      return exampleResponse();
    },
  });
});
afterAll(() => hub.close());
beforeEach(() => {
  cli = new Cli({ GCORP_SERVER_URL: hub.url, GCORP_API_KEY: TEST_KEY });
});
afterEach(() => cli.cleanup());

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs gcorp in a pseudo-terminal (stdin, stdout and stderr all a terminal) and answers everything it wrote. */
function inTerminal(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; output: string }> {
  // A pty made by script(1) outside a terminal has no size until it is given one.
  const command = `stty cols 100 rows 40; ${[process.execPath, BIN, ...args].map(quote).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      env: { ...cliEnv(cli.configDir, { ...cli.env, ...env }), TERM: 'xterm-256color', COLUMNS: '100' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (err) => reject(new Error(`script(1) could not start (util-linux/bsdutils): ${err.message}`)));
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('on a terminal', () => {
  it('waiting shows a spinner, and results are coloured', async () => {
    // (the spinner's frames are braille characters, redrawn in place)
    const r = await inTerminal(['run', 'echo', '--wait']);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(SPINNER_FRAMES);
    expect(r.output).toContain('Waiting for run');
    expect(r.output).toContain(`${ESC}32m✓`); // the green check of "succeeded"
    const list = await inTerminal(['runs', 'list']);
    expect(list.output).toContain(`${ESC}1mID`); // bold header
  });

  it('NO_COLOR turns off colour and animation', async () => {
    const r = await inTerminal(['run', 'echo', '--wait'], { NO_COLOR: '1' });
    expect(r.code, r.output).toBe(0);
    expect(r.output).not.toContain(ESC);
    expect(r.output).not.toMatch(SPINNER_FRAMES);
    expect(r.output).toContain('Waiting for run');
  });
});

describe('in a pipe', () => {
  it('no spinner and no colour: plain status lines', async () => {
    const r = await cli.run(['run', 'echo', '--wait'], { env: { TERM: 'xterm-256color' } });
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(ESC);
    expect(r.stderr).not.toMatch(SPINNER_FRAMES);
    expect(r.stderr).toMatch(/^Waiting for run run_\w+ \(echo, queued\)$/m);
  });

  it('long waits print a status line now and then', async () => {
    const r = await cli.run(['run', 'echo', '--wait'], { env: { GCORP_STATUS_INTERVAL: '0.4' } });
    expect(r.code).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('Waiting for run'));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines.at(-1)).toMatch(/\(\d+(\.\d)?s\)$/); // with the time waited so far
  });

  it('FORCE_COLOR colours a pipe, without animating', async () => {
    const r = await cli.run(['run', 'echo', '--wait'], { env: { FORCE_COLOR: '1' } });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${ESC}32m✓`);
    expect(r.stderr).not.toMatch(SPINNER_FRAMES);
  });
});
