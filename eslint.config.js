// Lint rules for the whole monorepo: ESLint's and typescript-eslint's recommended sets, without type information so a
// lint run stays fast (tsc does the type checking). Packages run `eslint src test` from their own folder; ESLint 9
// looks up from the working directory and finds this file, and every pattern below is relative to the repository root.
import js from '@eslint/js';
import comments from '@eslint-community/eslint-plugin-eslint-comments/configs';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig([
  globalIgnores([
    '**/dist/**',
    '**/node_modules/**',
    '**/src/generated/**', // written by `npm run generate` from openapi.yaml
    '**/*.d.ts',
    '**/coverage/**',
    '**/.turbo/**',
    '**/.gcorp-data/**',
    '**/test-artifacts/**',
  ]),

  {
    linterOptions: {
      // A disable comment that no longer silences anything is a leftover: fail on it.
      reportUnusedDisableDirectives: 'error',
    },
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { ...globals.node },
    },
  },

  js.configs.recommended,
  tseslint.configs.recommended,
  comments.recommended,

  {
    files: ['**/*.{ts,mts,cts,js,mjs,cjs}'],
    rules: {
      // ENGINEERING.md: "No `any` without a comment saying why". The only way past this rule is a line-level
      // `// eslint-disable-next-line @typescript-eslint/no-explicit-any -- <why>`; the description after `--` is
      // required by eslint-comments/require-description below.
      '@typescript-eslint/no-explicit-any': 'error',
      '@eslint-community/eslint-comments/require-description': ['error', { ignore: [] }],
      // Whole-file or rule-less disables would hide more than the one line that needs it.
      '@eslint-community/eslint-comments/no-unlimited-disable': 'error',
      '@eslint-community/eslint-comments/disable-enable-pair': ['error', { allowWholeFile: false }],
      // `_`-prefixed names mark parameters a signature needs but the body does not use (Fastify hooks, handlers).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
    },
  },

  {
    // CommonJS files (rare here: the repository is ESM) may use require and module.
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
]);
