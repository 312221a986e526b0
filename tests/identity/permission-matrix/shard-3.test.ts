import { describeMatrixShard } from './harness';

// One of the matrix's shards: vitest runs them in parallel workers (see harness.ts).
describeMatrixShard(3);
