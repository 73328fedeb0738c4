// Identifiers: prefixed ULIDs whose random part comes from a pooled CSPRNG buffer (refilled every ~400 ids).
import { describe, expect, it } from 'vitest';
import { isId, newId, ulidBody } from '../src/ids.js';

describe('ids', () => {
  it('are well formed, unique across many pool refills, and sort by their time', () => {
    const seen = new Set<string>();
    const randomParts = new Set<string>();
    for (let i = 0; i < 5_000; i++) {
      const id = newId('run', 1_700_000_000_000 + i);
      expect(isId('run', id)).toBe(true);
      seen.add(id);
      randomParts.add(id.slice(4 + 10));
    }
    expect(seen.size).toBe(5_000);
    // The random part alone never repeats either: the pool is refilled, not reused.
    expect(randomParts.size).toBe(5_000);
    const ordered = [...seen];
    expect([...ordered].sort()).toEqual(ordered);
  });

  it('spread their random characters over the whole alphabet', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 2_000; i++) {
      for (const ch of ulidBody(0).slice(10)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    }
    // 32 000 characters over 32 symbols: each appears about 1 000 times; a stuck or biased source would not.
    expect(counts.size).toBe(32);
    for (const n of counts.values()) expect(n).toBeGreaterThan(700);
  });
});
