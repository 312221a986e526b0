import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request, type Response, type NextFunction } from 'express';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { GraphQLSchema } from 'graphql';
import type { MikroORM } from '@mikro-orm/postgresql';
import { loopbackOriginsFor, type Config } from '../config';
import type { RequestContext } from '../graphql/context';
import { ErrorCode } from '../shared/errors';
import { codedError, httpErrorBody } from '../graphql/errors';
import { formatError } from '../graphql/errors';
import { LIMITS, VALIDATION_RULES } from '../graphql/limits';
import { containsNul, nulError } from '../graphql/input-guards';
import type { Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import type { EventBus } from '../realtime/bus/event-bus';
import type { Services } from '../services';
import { ideRouter } from './ide';
import { inboundWebhookRouter } from '../modules/inbox/webhook';
import { exportDownloadRouter } from '../modules/reports';
import { bearerToken, buildContext, requestIdFrom } from './request-context';
import { attachWebSocketServer } from './websocket';
import type { LiveDeps } from '../realtime/live';
import { runForRequest } from '../observability/request-scope';

export const GRAPHQL_PATH = '/graphql';
/** How long a readiness probe waits for each dependency before calling it down. */
const PROBE_TIMEOUT_MS = 1500;

export interface HttpDeps {
  config: Pick<Config, 'port' | 'host' | 'allowedOrigins' | 'loopbackOrigins' | 'introspection' | 'ide' | 'shutdownTimeoutMs'>;
  orm: MikroORM;
  bus: EventBus;
  services: Services;
  schema: GraphQLSchema;
  logger: Logger;
  metrics: Metrics;
  live?: LiveDeps;
}

export interface HttpServer {
  url: string;
  port: number;
  httpServer: http.Server;
  /** Stop accepting, drain in-flight requests, close websockets with 1001. */
  stop(): Promise<void>;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export async function probeDatabase(orm: MikroORM): Promise<boolean> {
  try {
    await withTimeout(orm.em.getConnection().execute('select 1'), PROBE_TIMEOUT_MS);
    return true;
  } catch {
    return false;
  }
}

/** A listen failure an operator can act on, in one line. */
function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  if (err.code === 'EADDRINUSE') {
    return new Error(`port ${port} is in use on ${host} (another Switchboard or another program); stop it or set PORT`);
  }
  if (err.code === 'EACCES') return new Error(`not allowed to listen on ${host}:${port}; choose a PORT above 1023`);
  if (err.code === 'EADDRNOTAVAIL') return new Error(`HOST ${host} is not an address of this machine`);
  return err;
}

/** Records operation counts and latencies; the operation name is bounded by the schema's documents. */
function metricsPlugin(metrics: Metrics): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse(ctx) {
          const operation = (ctx.operationName ?? 'anonymous').slice(0, 64);
          const type = ctx.operation?.operation ?? 'unknown';
          const outcome = ctx.errors?.length ? 'error' : 'ok';
          metrics.operations.inc({ operation, type, outcome });
          metrics.operationSeconds.observe({ operation, type }, Number(process.hrtime.bigint() - started) / 1e9);
        },
      };
    },
  };
}

/**
 * Refusals (400) before execution: subscriptions, which are served over graphql-ws only (executed over HTTP
 * they would run their resolvers with no event), and variables holding NUL (Postgres text cannot store it).
 */
const httpInputGuardPlugin: ApolloServerPlugin<RequestContext> = {
  async requestDidStart() {
    return {
      async didResolveOperation(ctx) {
        if (ctx.operation?.operation === 'subscription') {
          throw codedError(ErrorCode.BAD_REQUEST, 'Subscriptions are served over graphql-ws on this path, not over HTTP', { httpStatus: 400 });
        }
        if (containsNul(ctx.request.variables)) throw nulError({ http: true });
      },
    };
  },
};

/**
 * One HTTP server on one port: Apollo on /graphql (POST and GET), graphql-ws on the same path, the IDE for
 * browsers, and the operational routes. Health checks are plain routes: Apollo's CSRF guard would refuse them.
 */
export async function startHttpServer(deps: HttpDeps): Promise<HttpServer> {
  const { config, logger, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback, uniquelocal');
  const httpServer = http.createServer(app);
  // Slow-loris guards; websockets are upgraded before these apply.
  httpServer.headersTimeout = 20_000;
  httpServer.requestTimeout = 30_000;
  let stopping = false;
  // Extended once the port is known (PORT=0): the websocket guard reads this list on every upgrade.
  const allowedOrigins = [...config.allowedOrigins];

  // Attached once the port is ours: before that, ws would re-emit a listen error (EADDRINUSE) on its own
  // server object, where graphql-ws prints it with a stack trace.
  let ws: ReturnType<typeof attachWebSocketServer> | undefined;

  const apollo = new ApolloServer<RequestContext>({
    schema: deps.schema,
    introspection: config.introspection,
    // A request that carries one of these headers cannot be a "simple" cross-site request (a browser would
    // preflight it, and CORS is not enabled), so GET queries with a bearer token (urql's default) are safe.
    // A GET or form POST without them is still refused.
    csrfPrevention: { requestHeaders: ['x-apollo-operation-name', 'apollo-require-preflight', 'authorization'] },
    allowBatchedHttpRequests: false,
    includeStacktraceInErrorResponses: false,
    hideSchemaDetailsFromClientErrors: !config.introspection,
    // The document limits run before execution; maxTokens refuses oversized documents while parsing.
    validationRules: [...VALIDATION_RULES],
    parseOptions: { maxTokens: LIMITS.maxTokens },
    formatError: (formatted, error) =>
      formatError(formatted, error, (err) => logger.error({ err }, 'unexpected error in graphql operation')),
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: config.shutdownTimeoutMs }),
      { async serverWillStart() { return { async drainServer() { await ws?.close(); } }; } },
      ApolloServerPluginLandingPageDisabled(),
      metricsPlugin(metrics),
      httpInputGuardPlugin,
    ],
  });
  await apollo.start();

  app.use((req: Request, res: Response, next: NextFunction) => {
    const requestId = requestIdFrom(req.headers['x-request-id']);
    res.locals.requestId = requestId;
    res.setHeader('x-request-id', requestId);
    if (stopping) res.setHeader('connection', 'close');
    // Everything done for this request carries its id (the query hook tells its statements from others').
    runForRequest(requestId, next);
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    const [database, eventBus] = await Promise.all([
      probeDatabase(deps.orm),
      withTimeout(deps.bus.healthy(), PROBE_TIMEOUT_MS).catch(() => false),
    ]);
    // Without the database nothing works: not ready. Without the bus, queries and mutations still work and
    // live clients catch up from the event log when it returns: ready, but degraded.
    const status = stopping ? 'stopping' : !database ? 'unavailable' : !eventBus ? 'degraded' : 'ok';
    res.status(stopping || !database ? 503 : 200).json({
      status,
      checks: { database: database ? 'up' : 'down', eventBus: eventBus ? 'up' : 'down', eventBusKind: deps.bus.kind },
    });
  });

  app.get('/metrics', async (_req, res) => {
    res.setHeader('content-type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });

  app.use(inboundWebhookRouter({ orm: deps.orm, services: deps.services, logger }));
  app.use(exportDownloadRouter({ exports: deps.services.exports, logger }));

  if (config.ide) app.use(ideRouter({ endpointPath: GRAPHQL_PATH }));

  app.use(
    GRAPHQL_PATH,
    express.json({ limit: '1mb' }),
    expressMiddleware(apollo, {
      context: async ({ req, res }) =>
        buildContext(deps, {
          requestId: res.locals.requestId as string,
          clientAddress: req.ip ?? req.socket.remoteAddress ?? 'unknown',
          token: bearerToken(req.headers.authorization),
        }),
    }),
  );

  app.use((_req, res) => {
    res.status(404).json(httpErrorBody(ErrorCode.NOT_FOUND, 'Not found'));
  });
  // Malformed JSON and oversized bodies are the client's fault: a 4xx with a code, never a crash.
  app.use((err: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) logger.error({ err }, 'unhandled http error');
    const message = status === 413 ? 'Request body too large' : status === 500 ? 'Internal server error' : 'Malformed request body';
    res.status(status).json(httpErrorBody(status === 500 ? ErrorCode.INTERNAL : ErrorCode.BAD_REQUEST, message));
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(listenError(err, config.host, config.port));
    httpServer.once('error', onError);
    httpServer.listen(config.port, config.host, () => {
      httpServer.off('error', onError);
      resolve();
    });
  }).catch(async (err) => {
    await apollo.stop().catch(() => undefined);
    throw err;
  });
  const port = (httpServer.address() as AddressInfo).port;
  ws = attachWebSocketServer({
    httpServer,
    path: GRAPHQL_PATH,
    schema: deps.schema,
    orm: deps.orm,
    services: deps.services,
    logger: logger.child({ component: 'graphql-ws' }),
    metrics,
    live: deps.live,
    allowedOrigins,
    introspection: config.introspection,
  });
  if (config.loopbackOrigins) {
    for (const origin of loopbackOriginsFor(port)) if (!allowedOrigins.includes(origin)) allowedOrigins.push(origin);
  }
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}${GRAPHQL_PATH}`,
    port,
    httpServer,
    async stop() {
      stopping = true;
      // Apollo's drain: stop accepting, let in-flight requests finish (up to the grace period), then close
      // websockets through the drain hook above.
      await apollo.stop();
    },
  };
}
