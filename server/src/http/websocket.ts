import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { GraphQLError, NoSchemaIntrospectionCustomRule, parse, specifiedRules, validate, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { WebSocketServer, type WebSocket } from 'ws';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Principal } from '../modules/identity/principal';
import { Session } from '../modules/identity/credentials.entity';
import { ErrorCode } from '../shared/errors';
import { codedError, liveError } from '../graphql/errors';
import { formatError } from '../graphql/errors';
import { LIMITS, VALIDATION_RULES } from '../graphql/limits';
import { containsNul, nulError } from '../graphql/input-guards';
import type { Metrics } from '../observability/metrics';
import { bindOperationOutput, subscribeShared } from '../realtime/shared-execution';
import { SocketWriter } from '../realtime/delivery';
import { DEFAULT_LIVE_LIMITS } from '../realtime/backpressure';
import { ConnectionRegistry, type LiveConnection } from '../realtime/connections';
import { ServerCloseCode } from '../realtime/close-codes';
import { bindConnection, groupsOfPrincipal } from '../realtime/live-subscription';
import { bearerToken, buildContext, releaseRequestState, type ContextDeps } from './request-context';

export const GRAPHQL_WS_PROTOCOL = 'graphql-transport-ws';
/** Largest frame a client may send. */
export const MAX_WS_PAYLOAD = 64 * 1024;
/** Messages a socket may send per second before it is closed (4429). */
export const MAX_WS_MESSAGES_PER_SECOND = 50;
/**
 * Keep-alive: a socket that has not answered the previous ping by the time it is pinged again is terminated.
 * One timer for all sockets (not graphql-ws's timer per socket): each tick pings a slice of the sockets, so
 * every socket is visited once per KEEP_ALIVE_MS and the pings are spread over it rather than sent in a burst.
 */
export const KEEP_ALIVE_MS = 12_000;
const KEEP_ALIVE_TICKS = 12;
/** A socket must send connection_init within this long (else 4408, as graphql-ws would). */
const CONNECTION_INIT_WAIT_MS = 5_000;
/** Distinct operation texts kept parsed and validated (the cache is simply emptied when full). */
const DOCUMENT_CACHE_SIZE = 1_000;
const MAX_CACHED_QUERY_LENGTH = 10_000;
/** modules/inbox/thread-policy.ts `groupsOf`'s memo key (tests/realtime/subscribe-cost.test.ts checks it is used). */
const GROUPS_MEMO_KEY = 'inbox:myGroups';

// A type alias, not an interface: graphql-ws wants an index-signature-compatible record.
export type SocketExtra = {
  principal?: Principal | null;
  clientAddress?: string;
  /** Kept to re-check the socket's credential when its user's access changes. */
  token?: string;
  /** The socket as a credential: re-checked on every access change that concerns it. */
  connection?: LiveConnection;
  /** Where subscription results are written, bounded (4008 past the bound). */
  writer?: SocketWriter;
};

/**
 * When a session socket must be re-checked: its session's expiry. `authenticate` has just loaded the session
 * into this EntityManager, so this is usually no query (cross-tenant otherwise: the id comes from the token).
 */
async function sessionExpiry(em: EntityManager, sessionId: string): Promise<Date | null> {
  const loaded = em.getUnitOfWork().getById<Session>(Session.name, sessionId);
  if (loaded?.expiresAt) return loaded.expiresAt;
  const rows = await em.getConnection().execute<Array<{ expires_at: Date }>>('select expires_at from sessions where id = ?', [sessionId]);
  return rows[0] ? new Date(rows[0].expires_at) : null;
}

/**
 * What this module keeps on each socket, as plain fields of the ws socket itself (no closure, timer or map
 * entry per socket): the flood window, whether a ping is unanswered, and the registry entry to drop on close.
 */
type TrackedSocket = WebSocket & {
  sbOpenedAt: number;
  sbWindowStart: number;
  sbCount: number;
  sbPinged: boolean;
  sbConnection: LiveConnection | null;
};

function onPong(this: WebSocket): void {
  (this as TrackedSocket).sbPinged = false;
}

function onFrame(this: WebSocket): void {
  const socket = this as TrackedSocket;
  const now = Date.now();
  if (now - socket.sbWindowStart >= 1000) {
    socket.sbWindowStart = now;
    socket.sbCount = 0;
  }
  if (++socket.sbCount > MAX_WS_MESSAGES_PER_SECOND) socket.close(ServerCloseCode.TOO_MANY_MESSAGES, 'Too many messages');
}

export interface WebSocketOptions extends ContextDeps {
  httpServer: HttpServer;
  path: string;
  schema: GraphQLSchema;
  metrics: Metrics;
  allowedOrigins: readonly string[];
  introspection: boolean;
}

function originAllowed(req: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = req.headers.origin;
  // Non-browser clients send no Origin; browsers always do, and only listed origins may open sockets.
  return origin === undefined || allowed.includes(origin);
}

/**
 * graphql-ws on the HTTP server's /graphql path: same schema, same validation rules, same context builder
 * and same error formatting as HTTP, so there is one authorization pipeline.
 */
export function attachWebSocketServer(opts: WebSocketOptions) {
  const wss = new WebSocketServer({
    server: opts.httpServer,
    path: opts.path,
    maxPayload: MAX_WS_PAYLOAD,
    handleProtocols: (protocols) => (protocols.has(GRAPHQL_WS_PROTOCOL) ? GRAPHQL_WS_PROTOCOL : false),
    verifyClient: ({ req }, done) => {
      if (!originAllowed(req, opts.allowedOrigins)) return done(false, 403, 'Origin not allowed');
      done(true);
    },
  });

  /**
   * Sockets that have not sent connection_init yet: closed with 4408 past CONNECTION_INIT_WAIT_MS (one timer for
   * all of them instead of graphql-ws's timer per socket, which stays referenced for the socket's whole life).
   */
  const awaitingInit = new Set<TrackedSocket>();
  const initWait = setInterval(() => {
    const now = Date.now();
    for (const socket of awaitingInit) {
      if (now - socket.sbOpenedAt < CONNECTION_INIT_WAIT_MS) continue;
      awaitingInit.delete(socket);
      socket.close(CloseCode.ConnectionInitialisationTimeout, 'Connection initialisation timeout');
    }
  }, 500);
  initWait.unref();

  // One close handler for every socket (a function per server, not a closure per socket).
  function onClose(this: WebSocket): void {
    opts.metrics.websocketConnections.dec();
    const socket = this as TrackedSocket;
    awaitingInit.delete(socket);
    const connection = socket.sbConnection;
    if (connection) {
      socket.sbConnection = null;
      connection.dispose();
      registry?.remove(connection);
    }
  }

  // Registered before graphql-ws's own listener: counts frames and closes floods before they are parsed.
  wss.on('connection', (ws: WebSocket) => {
    if (ws.protocol !== GRAPHQL_WS_PROTOCOL) {
      ws.close(ServerCloseCode.SUBPROTOCOL_NOT_ACCEPTABLE, 'Only graphql-transport-ws is supported');
      return;
    }
    const socket = ws as TrackedSocket;
    opts.metrics.websocketConnections.inc();
    socket.sbOpenedAt = Date.now();
    socket.sbWindowStart = socket.sbOpenedAt;
    socket.sbCount = 0;
    socket.sbPinged = false;
    socket.sbConnection = null;
    socket.on('message', onFrame);
    socket.on('pong', onPong);
    socket.on('close', onClose);
    awaitingInit.add(socket);
  });

  // The keep-alive sweep (see KEEP_ALIVE_MS): a slice of the sockets per tick, resuming where the last tick stopped.
  let sweep: Iterator<WebSocket> | null = null;
  const keepAlive = setInterval(() => {
    const now = Date.now();
    const slice = Math.ceil(wss.clients.size / KEEP_ALIVE_TICKS);
    for (let i = 0; i < slice; i++) {
      sweep ??= wss.clients.values();
      const next = sweep.next();
      if (next.done) {
        sweep = null;
        break;
      }
      const socket = next.value as TrackedSocket;
      // First pinged a full interval after opening, as graphql-ws's timer per socket did: a socket is
      // terminated no sooner than 2 x KEEP_ALIVE_MS after it opened, and KEEP_ALIVE_MS after an unanswered ping.
      if (socket.readyState !== socket.OPEN || now - socket.sbOpenedAt < KEEP_ALIVE_MS) continue;
      if (socket.sbPinged) {
        socket.terminate();
        continue;
      }
      socket.sbPinged = true;
      socket.ping();
    }
  }, KEEP_ALIVE_MS / KEEP_ALIVE_TICKS);
  keepAlive.unref();

  // Sockets are credentials: every authenticated socket is indexed by user, session and API key, and each
  // access change (read from the event log by the hub) re-checks the affected sockets once: a credential
  // that is gone closes the socket (4403), a changed one is swapped in for its subscriptions and operations.
  const registry = opts.live
    ? new ConnectionRegistry({
        orm: opts.orm,
        hub: opts.live.hub,
        logger: opts.logger,
        metrics: opts.metrics,
        authenticate: async (orm, token) => {
          const em = orm.em.fork({ clear: true, useContext: false });
          const principal = await opts.services.authentication.authenticate(em, token);
          if (!principal) return null;
          return { principal, expiresAt: principal.sessionId ? await sessionExpiry(em, principal.sessionId) : null };
        },
      })
    : null;
  const extras = new WeakMap<LiveConnection, SocketExtra>();
  if (registry) {
    registry.onPrincipal = (connection, principal) => {
      const extra = extras.get(connection);
      if (extra) extra.principal = principal;
    };
  }
  const forbidden = () => [liveError(ErrorCode.FORBIDDEN, 'Your credential is no longer valid')];

  const formatResult = (result: ExecutionResult): ExecutionResult => {
    if (!result.errors?.length) return result;
    return {
      ...result,
      errors: result.errors.map((e) => formatError(e.toJSON(), e, (err) => opts.logger.error({ err }, 'unexpected error in websocket operation'))),
    } as unknown as ExecutionResult;
  };
  const limits = opts.live?.limits ?? DEFAULT_LIVE_LIMITS;
  /** One writer per socket, made on its first operation. */
  const writerOf = (extra: SocketExtra & { socket: WebSocket }): SocketWriter => {
    extra.writer ??= new SocketWriter(extra.socket, limits, (held) => {
      if (extra.connection) return extra.connection.slowConsumer(held);
      registry?.noteSlowConsumer(held);
      extra.socket.close(ServerCloseCode.SLOW_CONSUMER, 'Slow consumer');
    });
    return extra.writer;
  };

  const rules = [...specifiedRules, ...VALIDATION_RULES, ...(opts.introspection ? [] : [NoSchemaIntrospectionCustomRule])];

  /**
   * Parsed and validated documents by source text: thousands of clients send the same few subscriptions, and
   * one shared document object is what lets subscribeShared execute an event once for all of them.
   */
  const documents = new Map<string, { document: DocumentNode; query: string } | { errors: readonly GraphQLError[] }>();
  const checkDocument = (query: string): { document: DocumentNode; query: string } | { errors: readonly GraphQLError[] } => {
    const cached = documents.get(query);
    if (cached) return cached;
    let checked: { document: DocumentNode; query: string } | { errors: readonly GraphQLError[] };
    try {
      const document = parse(query, { maxTokens: LIMITS.maxTokens });
      const errors = validate(opts.schema, document, rules);
      checked = errors.length
        ? {
            errors: errors.map((e) =>
              e.extensions?.code ? e : codedError(ErrorCode.GRAPHQL_VALIDATION_FAILED, e.message, { nodes: e.nodes }),
            ),
          }
        : { document, query };
    } catch (err) {
      checked = { errors: [codedError(ErrorCode.GRAPHQL_PARSE_FAILED, (err as Error).message)] };
    }
    if (documents.size >= DOCUMENT_CACHE_SIZE) documents.clear();
    if (query.length <= MAX_CACHED_QUERY_LENGTH) documents.set(query, checked);
    return checked;
  };

  const serverCleanup = useServer<Record<string, unknown>, SocketExtra>(
    {
      schema: opts.schema,
      subscribe: subscribeShared,
      connectionInitWaitTimeout: 0, // awaitingInit above
      onConnect: async (ctx) => {
        awaitingInit.delete(ctx.extra.socket as TrackedSocket);
        const req = ctx.extra.request;
        ctx.extra.clientAddress = req.socket.remoteAddress ?? 'unknown';
        // The upgrade request (its headers, its parser state) is not needed for the socket's life: not kept.
        (ctx.extra as { request?: unknown }).request = undefined;
        const token = bearerToken(ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization);
        if (!token) {
          // Anonymous sockets are allowed; every operation is still checked by @auth like over HTTP.
          ctx.extra.principal = null;
          return true;
        }
        ctx.extra.token = token;
        if (!registry) {
          const principal = await opts.services.authentication.authenticate(opts.orm.em.fork({ clear: true, useContext: false }), token);
          ctx.extra.principal = principal;
          return principal !== null; // false: graphql-ws closes with 4403 (ServerCloseCode.FORBIDDEN)
        }
        // Once per session on this process: every socket presenting this token shares the resolution and its principal.
        const credential = await registry.resolve(token);
        if (!credential) return false; // graphql-ws closes with 4403 (ServerCloseCode.FORBIDDEN)
        ctx.extra.principal = credential.principal;
        const socket = ctx.extra.socket as TrackedSocket;
        if (socket.readyState !== socket.OPEN) return false; // closed while its credential was resolved
        const connection = registry.add(token, credential, socket);
        extras.set(connection, ctx.extra);
        ctx.extra.connection = connection;
        socket.sbConnection = connection; // dropped by onClose
        return true;
      },
      onSubscribe: async (ctx, _id, payload): Promise<ExecutionArgs | readonly GraphQLError[]> => {
        // An operation on a socket whose credential is being re-checked runs on the outcome.
        const connection = ctx.extra.connection;
        if (connection) {
          await connection.settled();
          if (connection.revoked) return forbidden();
        }
        const checked = checkDocument(payload.query);
        if (!('document' in checked)) return checked.errors;
        if (containsNul(payload.variables)) return [nulError()];
        const document = checked.document;
        // graphql-ws keeps the subscribe message for the operation's life: its query text becomes the cached
        // one (one string for every socket sending it, not one copy each).
        (payload as { query: string }).query = checked.query;
        return {
          schema: opts.schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
        };
      },
      context: async (ctx, id) => {
        const connection = ctx.extra.connection;
        const context = await buildContext(opts, {
          clientAddress: ctx.extra.clientAddress ?? 'unknown',
          token: null,
          principal: connection ? connection.principal : (ctx.extra.principal ?? null),
          credential: ctx.extra.token,
        });
        if (connection) {
          bindConnection(context, connection);
          // The socket's agent groups, loaded once per principal (a group change replaces the principal) instead
          // of once per operation: seeded under the key the inbox's groupsOf memoises them with.
          if (context.principal) context.memo.set(GROUPS_MEMO_KEY, groupsOfPrincipal(opts.orm, context.principal));
        }
        bindOperationOutput(context, { id, writer: writerOf(ctx.extra), format: formatResult, release: () => releaseRequestState(context) });
        return context;
      },
      onNext: (_ctx, _id, _payload, _args, result) => formatResult(result),
      onError: (_ctx, _id, _payload, errors) =>
        errors.map((e) => formatError(e.toJSON(), e, (err) => opts.logger.error({ err }, 'unexpected websocket error'))) as never,
    },
    wss,
    0, // no keep-alive timer per socket: the sweep above pings them
  );

  return {
    wss,
    /** Closes every socket with 1001 (going away) and stops graphql-ws. */
    async close(): Promise<void> {
      clearInterval(keepAlive);
      clearInterval(initWait);
      for (const client of wss.clients) client.close(ServerCloseCode.GOING_AWAY, 'Server shutting down');
      await serverCleanup.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
