import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { TcpProxy } from '../support/tcp-proxy';
import { eventually } from '../support/wait';

async function readyz(server: TestServer) {
  const res = await fetch(server.url.replace(/\/graphql$/, '/readyz'));
  return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, string> } };
}

describe('/readyz follows the database', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let server: TestServer;

  beforeAll(async () => {
    db = await createTestDatabase();
    const target = new URL(db.url);
    proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    await proxy.start();
    target.port = String(proxy.port);
    server = await bootServer({ db: { ...db, url: target.toString() } });
  });
  afterAll(async () => {
    await server.close();
    await proxy.cut();
    await db.drop();
  });

  it('is ready, then 503 while Postgres is unreachable, then ready again by itself', async () => {
    expect((await readyz(server)).status).toBe(200);

    await proxy.cut();
    const down = await readyz(server);
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: 'unavailable', checks: { database: 'down' } });
    // The process stays up and answers health checks meanwhile.
    expect((await fetch(server.url.replace(/\/graphql$/, '/healthz'))).status).toBe(200);

    await proxy.restore();
    const up = await eventually(() => readyz(server), (r) => r.status === 200, { what: '/readyz to answer 200 again' });
    expect(up.status).toBe(200);
    expect(up.body.checks.database).toBe('up');
    // Queries work again too.
    expect((await server.gql('{ __typename }')).status).toBe(200);
  });
});

describe('/readyz with the Redis event bus', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await bootServer({ redis: true });
  });
  afterAll(() => server.close());

  it('reports the Redis bus up', async () => {
    const r = await readyz(server);
    expect(r.status).toBe(200);
    expect(r.body.checks).toMatchObject({ eventBus: 'up', eventBusKind: 'redis' });
  });
});
