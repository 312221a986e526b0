// Type-aware lint (npm run lint, run by .ci/run): promises that are neither awaited nor handled, promises
// passed where a callback's result is ignored, and switches that miss a case of a union are errors.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'client-sdk/dist/**', 'client-sdk/dist-examples/**', 'client-sdk/src/generated/**', 'node_modules/**', 'coverage/**', '**/*.mjs', '**/*.js'] },
  {
    files: ['server/**/*.ts', 'bench/**/*.ts', 'client-sdk/src/**/*.ts', 'tests/**/*.ts', 'tests/**/*.mts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
    },
  },
);
