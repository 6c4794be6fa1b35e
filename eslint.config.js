// Lint config: typescript-eslint recommended rules, plus a layer rule that keeps the
// pure engine free of I/O (no node: built-ins, no media/service packages).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'bench-out/**', 'demo-out/**', '.cache/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['shared/engine/src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'path', 'child_process', 'os', 'net', 'http', 'https', 'worker_threads'], message: 'The engine is pure: no I/O imports.' },
          { group: ['@sync-analyzer/*'], message: 'The engine is the lowest layer: it imports no other workspace package.' },
        ],
      }],
      'no-restricted-globals': ['error', 'process', 'Date', 'fetch', 'setTimeout', 'setInterval'],
    },
  },
  {
    files: ['shared/media/src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['@sync-analyzer/analysis', '@sync-analyzer/cli'], message: 'media sits below analysis and services.' }] }],
    },
  },
  {
    files: ['**/*.test.ts'],
    rules: { 'no-restricted-imports': 'off', 'no-restricted-globals': 'off' },
  },
  {
    // End-to-end tests read arbitrary JSON answers; the contract checker validates their shape.
    files: ['e2e/**/*.ts', '**/*.test.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
