#!/usr/bin/env node
// Compiles the server (tsc -p tsconfig.build.json) only when its sources changed since the last successful
// build: `npm start` then costs a few milliseconds of stat calls instead of a full type-check every time.
// The fingerprint (path, size, mtime of every input) is kept in dist/; `--force` always compiles.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const STAMP = path.join(ROOT, 'dist', '.build-fingerprint');
const ENTRY = path.join(ROOT, 'dist', 'server', 'src', 'main.js');
const SOURCE_DIRS = ['server', 'bench'];
const FILES = ['tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'];

function* walk(dir) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'dist') yield* walk(full);
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
      yield full;
    }
  }
}

export function fingerprint() {
  const lines = [];
  const files = [...SOURCE_DIRS.flatMap((d) => [...walk(path.join(ROOT, d))]), ...FILES.map((f) => path.join(ROOT, f))];
  for (const file of files.sort()) {
    try {
      const st = fs.statSync(file);
      lines.push(`${path.relative(ROOT, file)} ${st.size} ${st.mtimeMs}`);
    } catch {
      lines.push(`${path.relative(ROOT, file)} missing`);
    }
  }
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

function upToDate(current) {
  try {
    return fs.existsSync(ENTRY) && fs.readFileSync(STAMP, 'utf8').trim() === current;
  } catch {
    return false;
  }
}

const force = process.argv.includes('--force');
// Taken before compiling: a file edited during the build makes the next start compile again.
const current = fingerprint();
if (!force && upToDate(current)) process.exit(0);

if (!force) process.stderr.write('switchboard: compiling the server (first start, or the sources changed)...\n');
fs.rmSync(STAMP, { force: true });
const tsc = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
  cwd: ROOT,
  stdio: 'inherit',
});
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
fs.mkdirSync(path.dirname(STAMP), { recursive: true });
fs.writeFileSync(STAMP, `${current}\n`);
