// Feedback during long waits: an ora spinner on a terminal; elsewhere (CI, pipes) a plain status line now and then.
import { formatDuration } from './format.js';
import type { Output } from './output.js';

export interface Progress {
  /** Changes what is being waited for. */
  update(text: string): void;
  /** Removes the spinner (or stops the status lines); nothing is printed. */
  stop(): void;
}

/** Seconds between status lines when not on a terminal (GCORP_STATUS_INTERVAL, default 15). */
function statusIntervalMs(): number {
  const n = Number(process.env.GCORP_STATUS_INTERVAL);
  return Number.isFinite(n) && n > 0 ? n * 1000 : 15_000;
}

export async function startProgress(out: Output, text: string): Promise<Progress> {
  const started = Date.now();
  if (out.animate) {
    const { default: ora } = await import('ora');
    const spinner = ora({ text, stream: process.stderr, discardStdin: false, isEnabled: true }).start();
    return {
      update: (next) => {
        spinner.text = next;
      },
      stop: () => spinner.stop(),
    };
  }
  let current = text;
  const line = () => out.status(`${current} (${formatDuration(Date.now() - started)})`);
  out.status(current);
  const timer = setInterval(line, statusIntervalMs());
  timer.unref();
  return {
    update: (next) => {
      current = next;
    },
    stop: () => clearInterval(timer),
  };
}
