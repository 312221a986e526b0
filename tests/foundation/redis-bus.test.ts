import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRedisBus, RedisBus } from '../../server/src/realtime/bus/redis';
import { Hub, WAKE_CHANNEL_PREFIX, type LiveSubscriber } from '../../server/src/realtime/hub';
import { bootServer, type TestServer } from '../support/server';
import { TEST_REDIS_URL } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';
import { eventually } from '../support/wait';

/**
 * Redis going away and coming back, through a proxy this file cuts and restores (the machine's Redis stays
 * up for everyone else). Every wait is on a signal with a generous deadline; latencies are printed only.
 */
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const target = new URL(TEST_REDIS_URL);
const direct = createClient({ url: TEST_REDIS_URL });
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  await direct.connect();
});
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
});
afterAll(async () => {
  await direct.close();
});

async function cutProxy(): Promise<{ proxy: TcpProxy; url: string }> {
  const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
  await proxy.start();
  await proxy.cut();
  cleanups.push(() => proxy.cut());
  const url = new URL(TEST_REDIS_URL);
  url.port = String(proxy.port);
  return { proxy, url: url.toString() };
}

const channel = (name: string) => `sb:test:${name}:${randomBytes(4).toString('hex')}`;

/** Publishes on `channels` every 100 ms (straight to Redis) until `received()` holds; fails after 60 s. */
async function publishUntil(channels: string[], received: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!received()) {
    if (Date.now() > deadline) throw new Error('no message arrived through the bus within 60 s');
    for (const c of channels) await direct.publish(c, 'wake');
    await new Promise((r) => setTimeout(r, 100));
  }
}


describe('the Redis bus when Redis is away', () => {
  it('is created at once while Redis is down, and delivers once Redis comes', async () => {
    const { proxy, url } = await cutProxy();
    const bus = await createRedisBus(url, logger); // before: waited for Redis, forever
    cleanups.push(() => bus.close());
    expect(await bus.healthy()).toBe(false);

    const wake = channel('first');
    const got: string[] = [];
    await bus.subscribe(wake, (m) => got.push(m));

    await proxy.restore();
    const restoredAt = Date.now();
    await publishUntil([wake], () => got.length > 0);
    console.log(`first push after Redis returned: ${Date.now() - restoredAt} ms`);
    await eventually(() => bus.healthy(), Boolean, { what: 'the bus to report healthy' });
  }, 120_000);

  it('subscribes a channel first wanted while the connection was cut, and keeps the earlier ones', async () => {
    const { proxy, url } = await cutProxy();
    await proxy.restore();
    const bus = new RedisBus(url, logger);
    cleanups.push(() => bus.close());
    await bus.connect();
    const before = channel('before');
    const during = channel('during');
    const got = new Set<string>();
    await bus.subscribe(before, () => got.add(before));
    await eventually(() => bus.isSubscribed(before), Boolean, { what: 'the first channel to be subscribed' });

    await proxy.cut();
    await eventually(async () => !(await bus.healthy()), Boolean, { what: 'the bus to notice the cut' });
    await bus.subscribe(during, () => got.add(during)); // before: SUBSCRIBE failed once and was never retried

    await proxy.restore();
    await publishUntil([before, during], () => got.has(before) && got.has(during));
  }, 120_000);

  it('brings a workspace whose first subscriber arrived while Redis was down back to push', async () => {
    const server: TestServer = await bootServer();
    cleanups.push(() => server.close());
    const { proxy, url } = await cutProxy();
    const bus = await createRedisBus(url, logger);
    cleanups.push(() => bus.close());
    // A poll interval of an hour: any wake-up seen here came by push.
    const hub = new Hub(server.app.orm, bus, logger, 3_600_000);
    await hub.start();
    cleanups.push(() => hub.stop());
    const wakes = vi.spyOn(hub, 'wake');

    const workspaceId = `ws-${randomBytes(4).toString('hex')}`;
    const subscriber: LiveSubscriber = {
      organizationId: 'org',
      workspaceIds: new Set([workspaceId]),
      deliver: () => undefined,
      fail: () => undefined,
    };
    hub.register(subscriber);
    cleanups.push(async () => hub.unregister(subscriber));

    await proxy.restore();
    const restoredAt = Date.now();
    await publishUntil([WAKE_CHANNEL_PREFIX + workspaceId], () => wakes.mock.calls.length > 0);
    console.log(`first pushed wake-up after Redis returned: ${Date.now() - restoredAt} ms`);
  }, 120_000);
});

describe('a server started while Redis is down', () => {
  it('listens, says degraded on /readyz, and is ok once Redis comes', async () => {
    const { proxy, url } = await cutProxy();
    const server = await bootServer({ env: { REDIS_URL: url } }); // before: never got past connecting
    cleanups.push(() => server.close());
    const readyz = async () => {
      const res = await fetch(server.url.replace(/\/graphql$/, '/readyz'));
      return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, string> } };
    };

    const down = await readyz();
    expect(down.status).toBe(200);
    expect(down.body).toMatchObject({ status: 'degraded', checks: { database: 'up', eventBus: 'down', eventBusKind: 'redis' } });
    expect((await server.gql('{ __typename }')).body).toEqual({ data: { __typename: 'Query' } });

    await proxy.restore();
    await eventually(async () => (await readyz()).body.status === 'ok', Boolean, { what: '/readyz to say ok' });
  }, 120_000);
});
