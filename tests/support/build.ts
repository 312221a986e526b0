import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
export const MAIN_JS = path.join(ROOT, 'dist/server/src/main.js');

/**
 * Compiles the server once per run, so tests can run it as operators do: `node dist/...`. With the project's
 * "build only when the sources changed" script (scripts/build-if-stale.mjs) an unchanged tree costs a few
 * stat calls; without it, an incremental tsc (a few seconds even when nothing changed).
 */
export function buildServer(): void {
  const staleCheck = path.join(ROOT, 'scripts/build-if-stale.mjs');
  const args = fs.existsSync(staleCheck) ? [staleCheck] : [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'];
  execFileSync(process.execPath, args, { cwd: ROOT, stdio: 'pipe' });
}
