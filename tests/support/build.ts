import { execFileSync } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
export const MAIN_JS = path.join(ROOT, 'dist/server/src/main.js');

/**
 * Compiles the server once per run, so tests can run it as operators do: `node dist/...`. The same step as
 * `npm start`'s: skipped when the sources have not changed since the last build.
 */
export function buildServer(): void {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build-if-stale.mjs')], {
    cwd: ROOT,
    stdio: 'pipe',
  });
}
