import { spawn, type ChildProcess } from 'node:child_process';
import { MAIN_JS, ROOT } from './build';

export interface ServerProcess {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
}

/** Runs the compiled server (`node dist/server/src/main.js`) with the given environment only. */
export function spawnServer(env: Record<string, string>): ServerProcess {
  const proc = spawn(process.execPath, [MAIN_JS], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | string>((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { proc, stdout: () => out, stderr: () => err, exited };
}

/** Waits (bounded, generously: a loaded machine takes many seconds to load the server) for the "ready" line and returns the GraphQL URL it names. */
export async function waitForReady(server: ServerProcess, timeoutMs = 90_000): Promise<string> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const match = /Switchboard is ready: (http:\/\/\S+\/graphql)/.exec(server.stdout());
    if (match) return match[1]!;
    if (server.proc.exitCode !== null) throw new Error(`server exited early: ${server.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`server not ready after ${timeoutMs} ms: ${server.stderr()}`);
}
