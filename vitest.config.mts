import { defineConfig } from 'vitest/config';
import swc from 'unplugin-swc';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  // esbuild emits no decorator metadata; type-graphql and MikroORM need it.
  plugins: [
    swc.vite({
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
        target: 'es2022',
      },
      module: { type: 'es6' },
    }),
  ],
  resolve: {
    // One copy of graphql, or "Cannot use GraphQLObjectType from another module or realm".
    alias: { graphql: path.resolve(root, 'node_modules/graphql/index.js') },
  },
  test: {
    include: ['tests/**/*.test.ts', 'tests/**/*.test.mts'],
    setupFiles: ['tests/support/setup.ts'],
    globalSetup: ['tests/support/global-setup.ts'],
    pool: 'forks',
    // Generous but bounded: CI runs beside other work on 2 cores (load ~10), where everything takes several
    // times as long as on an idle machine. Tests that spawn processes or build large data sets set more.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Tests talk to the real Postgres and Redis; two cores, so a few files at a time.
    maxWorkers: 3,
  },
});
