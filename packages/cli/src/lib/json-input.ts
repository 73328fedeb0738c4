// Run inputs and request bodies given as `JSON`, `@file` or `-` (stdin), with errors that point at the bad spot.
import { readFile } from 'node:fs/promises';
import { usageError } from './errors.js';
import { readStdin } from './stdin.js';

/** The hub's request body limit. */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Where JSON text first goes wrong, as an offset: Node 20's JSON.parse messages do not always carry a position, so a
 * small scanner walks the grammar to find it.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const literal = (word: string) => {
    for (const ch of word) {
      if (text[i] !== ch) fail();
      i++;
    }
  };
  const string = () => {
    i++; // opening quote
    while (i < text.length && text[i] !== '"') {
      if (text.charCodeAt(i) < 0x20) fail();
      if (text[i] === '\\') {
        i++;
        if (text[i] === 'u') {
          for (let k = 0; k < 4; k++) {
            i++;
            if (!/[0-9a-fA-F]/.test(text[i] ?? '')) fail();
          }
        } else if (!'"\\/bfnrt'.includes(text[i] ?? 'x')) fail();
      }
      i++;
    }
    if (i >= text.length) fail();
    i++;
  };
  const number = () => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!match || match[0] === '' || match[0] === '-') fail();
    i += match![0].length;
  };
  const value = (): void => {
    ws();
    const ch = text[i];
    if (ch === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else fail();
      }
    }
    if (ch === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else fail();
      }
    }
    if (ch === '"') return string();
    if (ch === 't') return literal('true');
    if (ch === 'f') return literal('false');
    if (ch === 'n') return literal('null');
    if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) return number();
    fail();
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return -1;
  } catch (at) {
    return typeof at === 'number' ? at : -1;
  }
}

function where(text: string, err: Error): string {
  const reason = err.message.replace(/ in JSON at position \d+.*$/, '').replace(/, ".*" is not valid JSON$/s, '');
  const offset = jsonErrorOffset(text);
  if (offset < 0) return reason;
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `${reason} at line ${line}, column ${column}`;
}

/** Parses JSON text, or fails (exit 2) naming `source` and the line and column of the mistake. */
export function parseJson(text: string, source: string): unknown {
  if (text.trim() === '') throw usageError(`${source} is empty: expected JSON.`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw usageError(`${source} is not valid JSON: ${where(text, err as Error)}.`);
  }
}

/** `value` of a flag like `--input`: literal JSON, `@path` (a file) or `-` (stdin). */
export async function readJsonArgument(flag: string, value: string): Promise<unknown> {
  let text: string;
  let source: string;
  if (value === '-') {
    text = await readStdin(`${flag} -`, `\`cat input.json | gcorp ... ${flag} -\``);
    source = `${flag} - (standard input)`;
  } else if (value.startsWith('@')) {
    const path = value.slice(1);
    if (!path) throw usageError(`${flag} @: give a file name after @, like ${flag} @input.json.`);
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
      throw usageError(`${flag} @${path}: cannot read the file (${reason}).`);
    }
    source = `the file ${path}`;
  } else {
    text = value;
    source = flag;
  }
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) {
    throw usageError(`${source} is ${(Buffer.byteLength(text) / 1024 / 1024).toFixed(1)} MiB; the hub accepts at most 1 MiB per request.`);
  }
  return parseJson(text, source);
}
