import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { spawnServer, waitForReady } from '../support/process';

describe('start-up with bad configuration', () => {
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['a non-numeric PORT', { PORT: 'eighty' }, /^switchboard: invalid PORT: expected an integer, got "eighty"\n$/],
    ['an out-of-range PORT', { PORT: '70000' }, /^switchboard: invalid PORT: expected 0\.\.65535, got 70000\n$/],
    ['a malformed DATABASE_URL', { DATABASE_URL: 'not a url' }, /^switchboard: invalid DATABASE_URL: not a valid URL\n$/],
    ['a DATABASE_URL of another kind', { DATABASE_URL: 'mysql://localhost/db' }, /^switchboard: invalid DATABASE_URL: expected a postgres: or postgresql: URL/],
    ['a bad LOG_LEVEL', { LOG_LEVEL: 'loud' }, /^switchboard: invalid LOG_LEVEL: expected one of/],
    ['a malformed REDIS_URL', { REDIS_URL: 'http://x' }, /^switchboard: invalid REDIS_URL/],
  ];
  // Each case starts a node process that loads the server: seconds on a loaded machine.
  it.each(cases)('exits 1 with one line for %s', { timeout: 120_000 }, async (_name, env, message) => {
    const server = spawnServer(env);
    expect(await server.exited).toBe(1);
    expect(server.stderr()).toMatch(message);
    expect(server.stderr().trim().split('\n')).toHaveLength(1);
    expect(server.stderr()).not.toMatch(/\bat .*\.js:\d+/);
  });

  it('exits 1 with one line when the database cannot be reached', async () => {
    const server = spawnServer({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', LOG_LEVEL: 'silent' });
    expect(await server.exited).toBe(1);
    expect(server.stderr()).toMatch(/^switchboard: could not start: .+\n$/);
  }, 120_000);
});

describe('graceful shutdown', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('on SIGTERM during a burst: every response is complete, sockets get 1001, exit code 0 (not the deadline)', async () => {
    const server = spawnServer({ DATABASE_URL: db.url, PORT: '0', SEED_DEMO: 'false' });
    const url = await waitForReady(server, 90_000);

    const ws = new WebSocket(url.replace(/^http/, 'ws'), ['graphql-transport-ws']);
    const closeCode = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: {} })));
      ws.on('message', () => resolve());
    });

    const query = JSON.stringify({ query: `{ ${Array.from({ length: 10 }, (_, i) => `a${i}: __typename`).join(' ')} }` });
    const outcomes: Array<'complete' | 'refused'> = [];
    // SIGTERM lands mid-burst: it is sent once some responses came back, while every worker still sends.
    let firstResponses!: () => void;
    const burstUnderWay = new Promise<void>((resolve) => (firstResponses = resolve));
    const worker = async () => {
      // Bounded: a worker stops at its first refusal (the server stopped accepting) or after 1,000 requests.
      for (let i = 0; i < 1_000; i++) {
        try {
          const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: query });
          const body = (await res.json()) as { data?: Record<string, string> };
          // A response that arrived must be whole: every alias answered.
          expect(res.status).toBe(200);
          expect(Object.keys(body.data ?? {})).toHaveLength(10);
          outcomes.push('complete');
          if (outcomes.length >= 20) firstResponses();
        } catch (err) {
          // Refused or reset before a response: allowed (the client retries elsewhere); a partial body is not.
          if ((err as Error).name === 'AssertionError') throw err;
          outcomes.push('refused');
          return;
        }
      }
    };
    const burst = Array.from({ length: 20 }, () => worker());
    // (If every worker ended before that, there is nothing to wait for: the assertions below say what happened.)
    await Promise.race([burstUnderWay, Promise.all(burst)]);
    const signalledAt = Date.now();
    server.proc.kill('SIGTERM');
    await Promise.all(burst);
    const code = await server.exited;
    const tookMs = Date.now() - signalledAt;

    // Exit 0 is the graceful path: the server's own deadline (10 s after SIGTERM) exits 1. The time is printed,
    // not asserted (a loaded machine stretches it).
    expect(code).toBe(0);
    expect(await closeCode).toBe(1001);
    expect(outcomes.filter((o) => o === 'complete').length).toBeGreaterThan(0);
    console.log(`SIGTERM burst: ${outcomes.filter((o) => o === 'complete').length} complete, ${outcomes.filter((o) => o === 'refused').length} refused, exit in ${tookMs} ms`);
  }, 120_000);
});
