// Prefixed, time-sortable identifiers (`run_01h...`): 48-bit milliseconds + 80 random bits in Crockford base32.
import { randomBytes, randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
export type IdPrefix = 'ten' | 'usr' | 'key' | 'run' | 'agt' | 'evt' | 'ses' | 'rtk' | 'req';

export function newId(prefix: IdPrefix, now = Date.now()): string {
  return `${prefix}_${ulidBody(now)}`;
}

function timePart(now: number): string {
  let out = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

// The random parts come from a pool refilled from the CSPRNG 4 KiB at a time: one call per ~400 ids instead of a
// randomBytes() allocation and call per id (several ids per run; it showed as about 2% of the hub's CPU per run).
const randomPool = Buffer.alloc(4096);
let randomOffset = randomPool.length;

export function ulidBody(now = Date.now()): string {
  let out = timePart(now);
  if (randomOffset + 10 > randomPool.length) {
    randomFillSync(randomPool);
    randomOffset = 0;
  }
  const start = randomOffset;
  randomOffset += 10;
  // 80 bits -> 16 base32 chars, 5 bits at a time.
  let bits = 0;
  let value = 0;
  for (let i = start; i < start + 10; i++) {
    value = (value << 8) | randomPool[i]!;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

// Request ids are made per request: the 48-bit time, a random per-process part and a counter, without asking the
// system for random bytes each time (that was a measurable share of a cheap request's CPU).
const PROCESS_PART = ulidBody().slice(10, 18);
let requestCounter = 0;
export function newRequestId(now = Date.now()): string {
  requestCounter = (requestCounter + 1) % 0x10000000000;
  return `req_${timePart(now)}${PROCESS_PART}${requestCounter.toString(32).padStart(8, '0')}`;
}

const ID_BODY = /^[0-9a-hjkmnp-tv-z]{26}$/;
export function isId(prefix: IdPrefix, value: string): boolean {
  return value.startsWith(`${prefix}_`) && ID_BODY.test(value.slice(prefix.length + 1));
}

/** Random token in base62 (no `_` or `-`, so it can sit inside `gc_live_<id>_<secret>`). */
export function randomToken(length = 40): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 248) out += chars[b % 62]; // 248 = 4*62: rejection sampling keeps it unbiased
      if (out.length === length) break;
    }
  }
  return out;
}
