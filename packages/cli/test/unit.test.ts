// The CLI's pure helpers, imported from its sources: durations and times of flags, JSON error positions, the exit
// codes errors map to, templates and dotenv files, and colour levels.
import { describe, expect, it } from 'vitest';
import { parseDotenv, renderEnvTemplate } from '../src/commands/self-host/common.js';
import { CliError, describeError } from '../src/lib/errors.js';
import { ExitCode, exitCodeForRunStatus } from '../src/lib/exit-codes.js';
import { jsonErrorOffset } from '../src/lib/json-input.js';
import { colorLevel } from '../src/lib/output.js';
import { duration, futureTime, pointInTime } from '../src/lib/validation.js';

describe('flag values', () => {
  it('durations: bare seconds, units and sums', () => {
    expect(duration.parse('90')).toBe(90_000);
    expect(duration.parse('1.5')).toBe(1500);
    expect(duration.parse('30s')).toBe(30_000);
    expect(duration.parse('1h30m')).toBe(5_400_000);
    expect(duration.parse('250ms')).toBe(250);
    expect(duration.safeParse('5x').success).toBe(false);
    expect(duration.safeParse('1h 30m').success).toBe(false);
  });

  it('points in time: dates, date-times and ages', () => {
    const now = Date.parse('2025-11-23T12:00:00Z');
    expect(pointInTime(now).parse('2025-11-01').toISOString()).toBe('2025-11-01T00:00:00.000Z');
    expect(pointInTime(now).parse('2025-11-22T10:00:00+02:00').toISOString()).toBe('2025-11-22T08:00:00.000Z');
    expect(pointInTime(now).parse('24h').toISOString()).toBe('2025-11-22T12:00:00.000Z');
    expect(pointInTime(now).safeParse('90').success).toBe(false); // a bare number is ambiguous as a time
    expect(futureTime(now).parse('30d').toISOString()).toBe('2025-12-23T12:00:00.000Z');
    expect(futureTime(now).safeParse('2025-01-01').success).toBe(false);
  });
});

describe('JSON error positions', () => {
  it('points at the first character that breaks the grammar', () => {
    expect(jsonErrorOffset('{"a": 1}')).toBe(-1);
    expect(jsonErrorOffset('{"a": 1,}')).toBe(8);
    expect(jsonErrorOffset('[1, 2')).toBe(5);
    expect(jsonErrorOffset('{"a": tru}')).toBe(9);
    expect(jsonErrorOffset('"\\u12G4"')).toBe(5);
    expect(jsonErrorOffset('01')).toBe(1);
    expect(jsonErrorOffset('{} x')).toBe(3);
  });
});

describe('exit codes', () => {
  const apiError = (status: number, code = 'x') =>
    Object.assign(new Error('m'), { name: 'APIError', status, headers: {}, code, problem: { type: 't', title: 'T', status, detail: 'd', code, request_id: 'r' } });

  it('map hub statuses as PRODUCT.md says', () => {
    expect(describeError(apiError(400)).exitCode).toBe(ExitCode.USAGE);
    expect(describeError(apiError(401)).exitCode).toBe(ExitCode.AUTH);
    expect(describeError(apiError(403)).exitCode).toBe(ExitCode.AUTH);
    expect(describeError(apiError(404)).exitCode).toBe(ExitCode.NOT_FOUND);
    expect(describeError(apiError(402)).exitCode).toBe(ExitCode.QUOTA);
    expect(describeError(apiError(429)).exitCode).toBe(ExitCode.QUOTA);
    expect(describeError(apiError(409)).exitCode).toBe(ExitCode.FAILURE);
    expect(describeError(apiError(503)).exitCode).toBe(ExitCode.FAILURE);
  });

  it('map SDK and CLI errors', () => {
    expect(describeError(Object.assign(new Error('x'), { name: 'MissingCredentialsError' })).exitCode).toBe(ExitCode.AUTH);
    expect(describeError(Object.assign(new Error('x'), { name: 'OAuthError', error: 'expired_token' })).exitCode).toBe(ExitCode.AUTH);
    expect(describeError(Object.assign(new Error('x'), { name: 'APIConnectionError' })).exitCode).toBe(ExitCode.FAILURE);
    expect(describeError(Object.assign(new Error('x'), { name: 'RunWaitTimeoutError' })).exitCode).toBe(ExitCode.TIMED_OUT);
    expect(describeError(new CliError('x', { exitCode: ExitCode.USAGE })).exitCode).toBe(ExitCode.USAGE);
    expect(describeError(new TypeError('boom')).problem).toMatchObject({ code: 'internal_error', detail: 'boom' });
  });

  it('map run states', () => {
    expect(exitCodeForRunStatus('succeeded')).toBe(0);
    expect(exitCodeForRunStatus('failed')).toBe(1);
    expect(exitCodeForRunStatus('cancelled')).toBe(1);
    expect(exitCodeForRunStatus('timed_out')).toBe(124);
  });
});

describe('self-host templates', () => {
  it('fill the secrets\' ${NAME} placeholders and leave the others', () => {
    const secrets = { GCORP_SECRET_KEY: 'k', POSTGRES_PASSWORD: 'p' };
    expect(renderEnvTemplate('A=${GCORP_SECRET_KEY}\nURL=postgres://u:${POSTGRES_PASSWORD}@db\nB=${OTHER}\n', secrets)).toBe('A=k\nURL=postgres://u:p@db\nB=${OTHER}\n');
  });

  it('parse dotenv files', () => {
    expect(parseDotenv('# c\nA=1\nexport B="two words"\n\nC=\'3\'\nbad line\n')).toEqual({ A: '1', B: 'two words', C: '3' });
  });
});

describe('colour', () => {
  it('NO_COLOR wins, FORCE_COLOR forces, a pipe has none', () => {
    expect(colorLevel({ isTTY: true }, { NO_COLOR: '1', FORCE_COLOR: '3' })).toBe(0);
    expect(colorLevel({ isTTY: true }, { NO_COLOR: '' })).toBe(1);
    expect(colorLevel({ isTTY: false }, { FORCE_COLOR: '2' })).toBe(2);
    expect(colorLevel({ isTTY: false }, {})).toBe(0);
    expect(colorLevel({ isTTY: true }, { TERM: 'dumb' })).toBe(0);
    expect(colorLevel({ isTTY: true }, { COLORTERM: 'truecolor' })).toBe(3);
  });
});
