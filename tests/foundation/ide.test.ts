import vm from 'node:vm';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/src/config';
import { bootServer, type TestServer } from '../support/server';

/**
 * Runs the IDE page's inline script with stand-ins for the browser and its libraries, and returns the
 * fetcher it hands to GraphiQL; `socket` plays graphql-ws: it receives each subscription's sink.
 */
async function ideFetcher(server: TestServer, socket: (sink: { next(v: unknown): void; error(e: unknown): void }) => void) {
  const html = await (await fetch(server.url, { headers: { accept: 'text/html' } })).text();
  const inline = /<script nonce="[^"]+">([\s\S]*?)<\/script>/.exec(html)![1]!;
  let props: { fetcher: (params: unknown, opts?: unknown) => { subscribe(o: object): unknown } } | undefined;
  const context = {
    location: { protocol: 'http:', host: '127.0.0.1:4000', origin: 'http://127.0.0.1:4000' },
    document: { getElementById: () => ({}) },
    graphqlWs: { createClient: () => ({ subscribe: (_payload: unknown, sink: never) => (socket(sink), () => undefined) }) },
    React: { createElement: (_component: unknown, p: typeof props) => (props = p) },
    ReactDOM: { createRoot: () => ({ render: () => undefined }) },
    GraphiQL: {},
    Array,
    Error,
  };
  vm.runInNewContext(inline, context);
  return props!.fetcher;
}

/** What GraphiQL would show for one subscription: every value the fetcher's observable produced. */
async function subscriptionOutput(fetcher: Awaited<ReturnType<typeof ideFetcher>>): Promise<unknown[]> {
  const seen: unknown[] = [];
  await new Promise<void>((resolve) => {
    fetcher({ query: 'subscription { unreadCounts(workspaceId: "1") { total } }' }, { headers: {} }).subscribe({
      next: (v: unknown) => seen.push(v),
      error: (e: unknown) => {
        seen.push(e);
        resolve();
      },
      complete: () => resolve(),
    });
  });
  return seen;
}

/** Opens a graphql-ws socket with a browser's Origin header; resolves with the first server message or the refusal. */
function openWithOrigin(wsUrl: string, origin: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl, ['graphql-transport-ws'], { origin });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: {} })));
    ws.on('message', (d) => {
      resolve(JSON.parse(String(d)).type as string);
      ws.close();
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(`http ${res.statusCode}`);
      ws.terminate();
    });
    ws.on('error', () => undefined);
  });
}

describe('the GraphQL IDE (offline)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await bootServer({ env: { GRAPHQL_IDE: 'true' } });
  });
  afterAll(() => server.close());

  it('serves GraphiQL to browsers from same-origin assets only, under a CSP', async () => {
    const res = await fetch(server.url, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self' 'nonce-/);
    const html = await res.text();
    const srcs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(srcs.length).toBeGreaterThanOrEqual(5);
    for (const src of srcs) {
      expect(src.startsWith('/graphql/ide/assets/')).toBe(true);
      const asset = await fetch(new URL(src, server.url));
      expect(asset.status).toBe(200);
      expect(asset.headers.get('content-type')).toMatch(/text\/(javascript|css)/);
      expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    }
    expect(html).toContain('graphqlWs.createClient');
  });

  it('refuses anything outside the asset list', async () => {
    for (const p of ['/graphql/ide/assets/..%2F..%2Fpackage.json', '/graphql/ide/assets/secret.js']) {
      expect((await fetch(new URL(p, server.url))).status).toBe(404);
    }
  });

  it('leaves non-browser GETs to Apollo', async () => {
    const res = await fetch(`${server.url}?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { accept: 'text/html, application/json', 'apollo-require-preflight': 'true' },
    });
    expect(await res.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('is off in production', async () => {
    const prod = await bootServer({ env: { NODE_ENV: 'production' } });
    try {
      const res = await fetch(prod.url, { headers: { accept: 'text/html' } });
      expect(res.headers.get('content-type') ?? '').not.toContain('text/html');
    } finally {
      await prod.close();
    }
  });

  it('shows a refused subscription socket as a readable message, not {"isTrusted":true}', async () => {
    // What a browser hands graphql-ws when the upgrade is refused (403) or the server is down: a bare Event.
    const fetcher = await ideFetcher(server, (sink) => sink.error({ isTrusted: true }));
    const output = await subscriptionOutput(fetcher);
    expect(JSON.stringify(output)).not.toContain('isTrusted');
    const message = (output[0] as { errors: Array<{ message: string }> }).errors[0]!.message;
    expect(message).toMatch(/^Could not open the subscription socket to ws:\/\/127\.0\.0\.1:4000\/graphql/);
    expect(message).toContain('ALLOWED_ORIGINS');
    expect(message).toContain('this page is http://127.0.0.1:4000');
  });

  it('names the close code when the server closes the socket', async () => {
    const forbidden = await subscriptionOutput(await ideFetcher(server, (sink) => sink.error({ isTrusted: true, code: 4403, reason: 'Forbidden' })));
    expect((forbidden[0] as { errors: Array<{ message: string }> }).errors[0]!.message).toMatch(/credential is not valid \(4403 \(Forbidden\)\)/);
    const other = await subscriptionOutput(await ideFetcher(server, (sink) => sink.error({ isTrusted: true, code: 4429, reason: 'Too many messages' })));
    expect((other[0] as { errors: Array<{ message: string }> }).errors[0]!.message).toMatch(/closed by the server with code 4429 \(Too many messages\)/);
  });

  it('passes GraphQL errors from the server through as they are', async () => {
    const errors = [{ message: 'Cannot query field "nope" on type "Subscription".', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }];
    const output = await subscriptionOutput(await ideFetcher(server, (sink) => sink.error(errors)));
    expect(output[0]).toEqual({ errors });
  });
});

describe('loopback origins in development', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await bootServer({ env: { NODE_ENV: 'development' } });
  });
  afterAll(() => server.close());

  it('accepts sockets from the IDE at localhost, 127.0.0.1 and [::1] on the server\'s port', async () => {
    const port = new URL(server.url).port;
    for (const host of ['localhost', '127.0.0.1', '[::1]']) {
      expect(await openWithOrigin(server.wsUrl, `http://${host}:${port}`)).toBe('connection_ack');
    }
  });

  it('still refuses other ports and other hosts', async () => {
    const port = Number(new URL(server.url).port);
    expect(await openWithOrigin(server.wsUrl, `http://127.0.0.1:${port + 1}`)).toBe('http 403');
    expect(await openWithOrigin(server.wsUrl, `http://192.168.1.10:${port}`)).toBe('http 403');
    expect(await openWithOrigin(server.wsUrl, 'https://evil.example')).toBe('http 403');
  });

  it('lists them in the configuration for a fixed PORT, and not in production', () => {
    const dev = loadConfig({ PORT: '4000' });
    expect(dev.allowedOrigins).toEqual(
      expect.arrayContaining(['http://localhost:4000', 'http://127.0.0.1:4000', 'http://[::1]:4000']),
    );
    const prod = loadConfig({ PORT: '4000', NODE_ENV: 'production', PUBLIC_URL: 'https://inbox.example.com' });
    expect(prod.allowedOrigins).toEqual(['https://inbox.example.com']);
  });
});

describe('loopback origins in production', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await bootServer({ env: { NODE_ENV: 'production', PUBLIC_URL: 'https://inbox.example.com' } });
  });
  afterAll(() => server.close());

  it('are refused unless configured', async () => {
    const port = new URL(server.url).port;
    expect(await openWithOrigin(server.wsUrl, `http://127.0.0.1:${port}`)).toBe('http 403');
    expect(await openWithOrigin(server.wsUrl, 'https://inbox.example.com')).toBe('connection_ack');
  });
});
