import pg from 'pg';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { spawnServer, waitForReady, type ServerProcess } from '../support/process';
import { TEST_REDIS_URL } from '../support/services';
import { Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { encodeEventCursor } from '../../server/src/realtime/events';
import { collect, exactlyOnceProblems, hubSkips, type Stream } from './support';

const THREAD = `subscription($t: ID!, $after: String) { threadEvents(threadId: $t, after: $after) { cursor type message { body } } }`;
// CI sends FAILOVER_SENDS (default 100); bench/loop-live.sh runs 500, fifty times in a row under load.
const SENDS = Number(process.env.FAILOVER_SENDS ?? 100);

/**
 * A server process is killed (SIGKILL: no goodbye) while messages flow; its subscribers resume from their
 * last cursor on the surviving process. Every stream, stitched across the kill, must equal the log: no gap,
 * no duplicate, in commit-safe order.
 */
describe('failover: a server killed during sends', () => {
  let survivor: TestServer;
  let doomed: ServerProcess;
  let doomedUrl: string;
  let org: OrgBuilder;
  let W: Workspace;
  let supervisor: FixtureUser;

  const ok = async (query: string, variables: Record<string, unknown>) => {
    const r = await survivor.gql<any>(query, variables, { token: supervisor.token });
    expect(r.body.errors, JSON.stringify(r.body.errors)).toBeUndefined();
    return r.body.data!;
  };

  beforeAll(async () => {
    survivor = await bootServer({ redis: true });
    org = new OrgBuilder(survivor.app, 'Failover Co');
    W = org.workspace('West');
    supervisor = await org.login(await org.user('Sup', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
    doomed = spawnServer({ DATABASE_URL: survivor.db.url, REDIS_URL: TEST_REDIS_URL, PORT: '0', SEED_DEMO: 'false', LOG_LEVEL: 'warn' });
    doomedUrl = await waitForReady(doomed, 120_000);
  }, 180_000);
  afterAll(async () => {
    if (doomed.proc.exitCode === null && doomed.proc.signalCode === null) doomed.proc.kill('SIGKILL');
    await survivor.close();
  });

  it('subscribers that resume on the surviving process miss nothing and get nothing twice', { timeout: 600_000 }, async () => {
    const threadId = (await ok(`mutation($w: ID!) { startThread(input: { workspaceId: $w, phone: "+15556000001", body: "failover" }) { id } }`, { w: W.id })).startThread.id as string;
    const after = (await ok(`{ liveCursor }`, {})).liveCursor as string;
    const bulk = (e: any) => e?.type === 'MESSAGE_ADDED' && e.message?.body?.startsWith('fo-');
    const onDoomed = () =>
      createClient({ url: doomedUrl.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams: { authorization: `Bearer ${supervisor.token}` } });
    const onSurvivor = () => survivor.wsClient({ connectionParams: { authorization: `Bearer ${supervisor.token}` } });
    // Two subscribers on the process to be killed, one on the survivor all along.
    const doomedClients = [onDoomed(), onDoomed()];
    const first: Stream[] = doomedClients.map((c) => collect(c, THREAD, { t: threadId, after }, (d) => d.threadEvents, bulk));
    const steady = collect(onSurvivor(), THREAD, { t: threadId, after }, (d) => d.threadEvents, bulk);

    const resumed: Stream[] = [];
    for (let i = 0; i < SENDS; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, j) => ok(`mutation($t: ID!, $b: String!) { sendMessage(input: { threadId: $t, body: $b }) { id } }`, { t: threadId, b: `fo-${i + j}` })));
      if (i === Math.round(SENDS / 20) * 10) {
        doomed.proc.kill('SIGKILL');
        await doomed.exited;
        // Each client resumes on the survivor from the last cursor it saw (or from where it started).
        for (const s of first) {
          s.dispose();
          resumed.push(collect(onSurvivor(), THREAD, { t: threadId, after: s.events.at(-1)?.cursor ?? after }, (d) => d.threadEvents, bulk));
        }
      }
    }
    await Promise.all(doomedClients.map((c) => Promise.resolve(c.dispose()).catch(() => undefined)));

    const log = new pg.Client({ connectionString: survivor.db.url });
    await log.connect();
    const rows = await log.query(`select xid::text as xid, id::text as id from events where thread_id = $1 and type = 'MESSAGE_ADDED' and payload->'message'->>'body' like 'fo-%' order by events.xid, events.id`, [threadId]);
    await log.end();
    const expected = rows.rows.map((r) => encodeEventCursor(r.xid, r.id));
    expect(expected).toHaveLength(SENDS);

    // Each stream gets a bounded wait; then all are judged together, so a failure names the stream and the gap.
    await Promise.allSettled([steady.waitFor(SENDS, 120_000), ...resumed.map((r, k) => r.waitFor(SENDS - first[k]!.events.length, 120_000))]);
    const report = [steady.events, ...first.map((s, k) => [...s.events, ...resumed[k]!.events])].map((events) => exactlyOnceProblems(events, expected));
    if (report.some((problems) => problems.length)) {
      console.log(`failover field errors: ${JSON.stringify([steady, ...first, ...resumed].map((s) => s.fieldErrors))}; resumed from ${JSON.stringify(first.map((s) => s.events.at(-1)?.cursor ?? after))}; survivor hub at ${JSON.stringify(survivor.app.hub.head())}`);
      console.log(await hubSkips(survivor.app.hub, survivor.db.url));
    }
    console.log(`failover: ${SENDS} sends, killed after ${Math.round(SENDS / 20) * 10}; before the kill the two doomed subscribers had ${first.map((s) => s.events.length).join(' and ')}; problems (steady, resumed 1, resumed 2): ${JSON.stringify(report)}`);
    expect(report).toEqual([[], [], []]);
    for (const s of [steady, ...resumed]) s.dispose();
  });
});
