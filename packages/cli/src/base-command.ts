// The base of every gcorp command: the global flags (--json, --profile, --server, --debug), parsing, the context
// (profile, server, credential, SDK client) and one way of reporting errors with the exit codes of PRODUCT.md.
import { Command } from '@oclif/core/command';
import { Config } from '@oclif/core/config';
import * as Flags from '@oclif/core/flags';
import type { Interfaces } from '@oclif/core';
import type { Context } from './lib/context.js';
import { Output } from './lib/output.js';

export type FlagsOf<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>;
export type ArgsOf<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

/** Flags every command takes, shown under GLOBAL FLAGS in help. */
export const globalFlags = {
  json: Flags.boolean({
    description: 'Print the result as JSON on stdout, and nothing else there (errors too, as problem objects).',
    helpGroup: 'GLOBAL',
  }),
  profile: Flags.string({
    description: 'Profile to use (default: the current one). Env: GCORP_PROFILE.',
    helpGroup: 'GLOBAL',
  }),
  server: Flags.string({
    description: 'URL of the hub (default: the profile\'s, else http://127.0.0.1:4100). Env: GCORP_SERVER_URL.',
    helpGroup: 'GLOBAL',
  }),
  debug: Flags.boolean({
    description: 'Log every HTTP request and response (secrets redacted) and show stack traces.',
    helpGroup: 'GLOBAL',
  }),
};

export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override baseFlags = globalFlags;

  protected flags!: FlagsOf<T>;
  protected args!: ArgsOf<T>;
  /** Replaced once the flags are parsed; until then errors are printed plainly. */
  protected out: Output = Output.plain();
  #ctx: Context | undefined;

  /**
   * oclif's `Command.run` loads the configuration again when it is handed one (for plugins built against another
   * @oclif/core); gcorp's commands are built with the @oclif/core that loaded it, and run with it as it is.
   */
  static override async run<T extends Command>(
    this: new (argv: string[], config: Config) => T,
    argv?: string[],
    opts?: Interfaces.LoadOptions,
  ): Promise<ReturnType<T['run']>> {
    if (!(opts instanceof Config)) return Command.run.call(this, argv, opts) as Promise<ReturnType<T['run']>>;
    const command = new this(argv ?? process.argv.slice(2), opts) as T & { _run(): Promise<ReturnType<T['run']>> };
    return command._run();
  }

  override async init(): Promise<void> {
    await super.init();
    const beforeDashes = this.argv.indexOf('--') === -1 ? this.argv : this.argv.slice(0, this.argv.indexOf('--'));
    // Parse errors must already follow --json and --debug.
    this.out = Output.plain({ json: beforeDashes.includes('--json'), debug: beforeDashes.includes('--debug') });
    const ctor = this.ctor as typeof BaseCommand;
    const { args, flags } = await this.parse({
      flags: ctor.flags,
      baseFlags: ctor.baseFlags,
      args: ctor.args,
      strict: ctor.strict,
      enableJsonFlag: false,
    });
    this.flags = flags as FlagsOf<T>;
    this.args = args as ArgsOf<T>;
    this.out = await Output.create({ json: this.flags.json, debug: this.flags.debug });
  }

  /** Profile, server, credential and SDK client, resolved on first use. */
  protected async context(): Promise<Context> {
    if (!this.#ctx) {
      const { Context } = await import('./lib/context.js');
      this.#ctx = new Context(this.out, { json: this.flags.json, debug: this.flags.debug, profile: this.flags.profile, server: this.flags.server }, this.config.version);
    }
    return this.#ctx;
  }

  /** Errors of the command (and of parsing) are reported here, never by oclif: one message, the right exit code. */
  override async catch(err: Error & { exitCode?: number }): Promise<void> {
    const { reportError } = await import('./lib/errors.js');
    process.exitCode = reportError(err, this.out, { server: this.#ctx?.knownServer });
  }

  /** Sets the exit code without throwing (a failed run is a result, not an error). */
  protected setExitCode(code: number): void {
    process.exitCode = code;
  }
}
