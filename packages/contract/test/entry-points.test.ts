import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const srcDir = new URL('../src/', import.meta.url);
const MOCK_ONLY = /from '(msw|openapi-msw|@mswjs\/[^']+|express)'/;

describe('entry points', () => {
  it('keeps msw and express out of the main entry, which the server loads at runtime', () => {
    const offenders = readdirSync(srcDir)
      .filter((file) => file.endsWith('.ts') && file !== 'msw.ts')
      .filter((file) => MOCK_ONLY.test(readFileSync(new URL(file, srcDir), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('exposes the documented API from each entry', async () => {
    const main = await import('../src/index.js');
    for (const name of ['specPath', 'loadSpec', 'specText', 'listOperations', 'createValidators', 'createContractFetch']) {
      expect(main).toHaveProperty(name);
    }
    const mocks = await import('../src/msw.js');
    expect(Object.keys(mocks).sort()).toEqual(['createSpecHandlers', 'serveHandlers']);
  });
});
