// ESLint (flat config) for the extension, its webviews, the shared protocol and the tests: typescript-eslint's
// type-aware recommended rules. Formatting is Prettier's (.prettierrc); ESLint checks what a formatter cannot.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'out/**',
      'node_modules/**',
      'engine/**',
      '.venv/**',
      'test-artifacts/**',
      'protocol/experimentFields.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // node:test collects the promise its test() returns: not a floating promise.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      // Plain ES modules outside any tsconfig: parsed without a TypeScript project (disableTypeChecked's own
      // parserOptions, restated because this languageOptions replaces that config's).
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        Buffer: 'readonly',
      },
    },
  },
);
