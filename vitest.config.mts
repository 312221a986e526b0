import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import swc from 'unplugin-swc';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));

/**
 * The files known to take longest start first, so that with a few workers the run does not end waiting for
 * one long file started last. Without this, a fresh checkout (no vitest cache) runs larger files first, and
 * the permission matrix's small shard files would start last.
 */
const SLOW_FIRST: RegExp[] = [
  /tests\/security\/fuzz\.test\.ts$/,
  /tests\/realtime\/failover\.test\.ts$/,
  /tests\/realtime\/access-changes\.test\.ts$/,
  /tests\/sdk\/resume\.test\.mts$/,
  /tests\/security\/model\.test\.ts$/,
  /tests\/identity\/permission-matrix\/shard-\d+\.test\.ts$/,
  /tests\/realtime\/live\.test\.ts$/,
  /tests\/inbox\/scale\.test\.ts$/,
  /tests\/embedded-postgres\.test\.ts$/,
  /tests\/foundation\/zero-setup\.test\.ts$/,
  /tests\/sdk\/sdk\.test\.mts$/,
  /tests\/foundation\/process\.test\.ts$/,
];

class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const i = SLOW_FIRST.findIndex((pattern) => pattern.test(spec.moduleId));
      return i < 0 ? SLOW_FIRST.length : i;
    };
    // Array.prototype.sort is stable: within a rank, the base order (cached durations, sizes) stays.
    return [...sorted].sort((a, b) => rank(a) - rank(b));
  }
}

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
    // A worker runs file after file in one process, loading the server's modules once rather than once per
    // file (that import was about half of the whole run's time). Nothing here mocks modules or patches
    // globals; every file boots its own server and database.
    isolate: false,
    sequence: { sequencer: SlowFirstSequencer },
  },
});
