import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The request a piece of work is done for (its request id), carried through async calls. The query hook
 * receives it with every SQL statement, so a test counts the statements of its own request and none of the
 * background traffic (the event tailer, dashboards, other requests) that shares the process.
 */
const scope = new AsyncLocalStorage<string>();

/** Runs `fn` (and everything it starts) on behalf of the request `requestId`. */
export function runForRequest<T>(requestId: string, fn: () => T): T {
  return scope.run(requestId, fn);
}

/** Runs `fn` on behalf of no request: shared work a request merely triggers (one tail read serves everyone). */
export function runDetached<T>(fn: () => T): T {
  return scope.exit(fn);
}

/** The request the current code runs for, if any. */
export function currentRequestId(): string | undefined {
  return scope.getStore();
}
