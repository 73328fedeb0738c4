// Where each kind of text goes: results on stdout (only JSON with --json), messages and warnings on stderr; colour and
// animation only on a terminal, never with NO_COLOR (FORCE_COLOR forces colour, not animation).

export interface Style {
  readonly enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
  magenta(text: string): string;
  blue(text: string): string;
  gray(text: string): string;
}

type ColorLevel = 0 | 1 | 2 | 3;

const identity = (text: string): string => text;
const PLAIN: Style = {
  enabled: false,
  bold: identity,
  dim: identity,
  red: identity,
  green: identity,
  yellow: identity,
  cyan: identity,
  magenta: identity,
  blue: identity,
  gray: identity,
};

/** NO_COLOR (https://no-color.org) when set to anything but the empty string. */
export function noColorRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NO_COLOR !== undefined && env.NO_COLOR !== '';
}

/** The colour level for a stream: NO_COLOR wins, then FORCE_COLOR, then whether the stream is a terminal. */
export function colorLevel(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): ColorLevel {
  if (noColorRequested(env)) return 0;
  const force = env.FORCE_COLOR;
  if (force !== undefined) {
    if (force === '' || force === 'true' || force === '1') return 1;
    if (force === 'false' || force === '0') return 0;
    const n = Number.parseInt(force, 10);
    if (Number.isInteger(n)) return Math.max(0, Math.min(3, n)) as ColorLevel;
    return 1;
  }
  if (!stream.isTTY || env.TERM === 'dumb') return 0;
  if (env.COLORTERM === 'truecolor' || env.COLORTERM === '24bit') return 3;
  if (/-256(color)?$/i.test(env.TERM ?? '')) return 2;
  return 1;
}

async function styleFor(level: ColorLevel): Promise<Style> {
  if (level === 0) return PLAIN;
  const { Chalk } = await import('chalk');
  const chalk = new Chalk({ level });
  return {
    enabled: true,
    bold: (t) => chalk.bold(t),
    dim: (t) => chalk.dim(t),
    red: (t) => chalk.red(t),
    green: (t) => chalk.green(t),
    yellow: (t) => chalk.yellow(t),
    cyan: (t) => chalk.cyan(t),
    magenta: (t) => chalk.magenta(t),
    blue: (t) => chalk.blue(t),
    gray: (t) => chalk.gray(t),
  };
}

export interface OutputOptions {
  json?: boolean;
  debug?: boolean;
}

export class Output {
  readonly json: boolean;
  readonly debug: boolean;
  /** Colours for text written to stdout. */
  readonly out: Style;
  /** Colours for text written to stderr. */
  readonly err: Style;
  readonly stdinIsTTY: boolean;
  readonly stdoutIsTTY: boolean;
  readonly stderrIsTTY: boolean;
  /** Spinners and other redrawn lines: stderr is a terminal of known width, TERM is not dumb, NO_COLOR is not set. */
  readonly animate: boolean;
  #warned = new Set<string>();

  private constructor(options: OutputOptions, out: Style, err: Style) {
    this.json = options.json ?? false;
    this.debug = options.debug ?? false;
    this.out = out;
    this.err = err;
    this.stdinIsTTY = Boolean(process.stdin.isTTY);
    this.stdoutIsTTY = Boolean(process.stdout.isTTY);
    this.stderrIsTTY = Boolean(process.stderr.isTTY);
    // A terminal of unknown width (a pty nobody sized) would make the spinner's redraws run away.
    this.animate = this.stderrIsTTY && (process.stderr.columns ?? 0) > 0 && process.env.TERM !== 'dumb' && !noColorRequested();
  }

  static async create(options: OutputOptions = {}): Promise<Output> {
    const outLevel = colorLevel(process.stdout);
    const errLevel = colorLevel(process.stderr);
    const [out, err] = await Promise.all([styleFor(outLevel), styleFor(errLevel)]);
    return new Output(options, out, err);
  }

  /** A plain output for errors that happen before a command has parsed its flags. */
  static plain(options: OutputOptions = {}): Output {
    return new Output(options, PLAIN, PLAIN);
  }

  /** Width of the terminal on stdout, or COLUMNS, or 80 (a pipe has no width). */
  get columns(): number {
    const fromEnv = Number.parseInt(process.env.COLUMNS ?? '', 10);
    if (process.stdout.isTTY && process.stdout.columns) return process.stdout.columns;
    return Number.isInteger(fromEnv) && fromEnv > 20 ? fromEnv : 80;
  }

  /** A line of the command's result on stdout (human mode; JSON mode prints with `printJson`). */
  print(text = ''): void {
    process.stdout.write(`${text}\n`);
  }

  /** Text on stdout as is (streamed run output). */
  write(text: string): void {
    process.stdout.write(text);
  }

  /** A message for the person at the terminal, on stderr; left out in --json mode. */
  info(text = ''): void {
    if (!this.json) process.stderr.write(`${text}\n`);
  }

  /** A progress or status line on stderr, in both modes (it never mixes with JSON on stdout). */
  status(text: string): void {
    process.stderr.write(`${text}\n`);
  }

  /** A warning on stderr, in both modes. */
  warn(text: string): void {
    process.stderr.write(`${this.err.yellow('warning:')} ${text}\n`);
  }

  /** A warning shown at most once per process. */
  warnOnce(key: string, text: string): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.warn(text);
  }

  /** Debug detail on stderr with --debug. */
  debugLog(text: string): void {
    if (this.debug) process.stderr.write(`${this.err.gray(`debug: ${text}`)}\n`);
  }

  /** The result as pretty-printed JSON on stdout. */
  printJson(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** One JSON value on one line (JSON lines), for streams of events. */
  printJsonLine(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value)}\n`);
  }
}
