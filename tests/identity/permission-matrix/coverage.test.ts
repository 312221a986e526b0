import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { buildDeclaredSchema } from '../../../server/src/graphql/schema';
import { SHARDS, matrixOperations, pairCount } from './harness';

it('the shard files together check every operation of the schema exactly once', () => {
  const files = fs.readdirSync(__dirname).filter((f) => /^shard-\d+\.test\.ts$/.test(f)).sort();
  expect(files).toEqual(Array.from({ length: SHARDS }, (_, i) => `shard-${i + 1}.test.ts`).sort());
  for (const file of files) {
    expect(fs.readFileSync(path.join(__dirname, file), 'utf8')).toContain(`describeMatrixShard(${Number(/\d+/.exec(file)![0])});`);
  }
  const operations = matrixOperations(buildDeclaredSchema());
  console.log(`permission matrix: ${operations.length} operations, ${pairCount(operations)} (operation, role, workspace) pairs over ${SHARDS} shards`);
  expect(pairCount(operations)).toBeGreaterThan(500);
});
