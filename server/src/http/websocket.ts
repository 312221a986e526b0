import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { GraphQLError, NoSchemaIntrospectionCustomRule, parse, specifiedRules, validate, type DocumentNode, type ExecutionArgs, type GraphQLSchema } from 'graphql';
import { WebSocketServer, type WebSocket } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { CloseCode } from 'graphql-ws';
import type { Principal } from '../graphql/context';
import { ErrorCode, formatError } from '../graphql/errors';
import { LIMITS, VALIDATION_RULES } from '../graphql/limits';
import { containsNul, nulError } from '../graphql/input-guards';
import type { Metrics } from '../observability/metrics';
import { subscribeShared } from '../realtime/shared-execution';
import { bearerToken, buildContext, requestIdFrom, type ContextDeps } from './request-context';

export const GRAPHQL_WS_PROTOCOL = 'graphql-transport-ws';
/** Largest frame a client may send. */
export const MAX_WS_PAYLOAD = 64 * 1024;
/** Messages a socket may send per second before it is closed (4429). */
export const MAX_WS_MESSAGES_PER_SECOND = 50;
/** Distinct operation texts kept parsed and validated (the cache is simply emptied when full). */
const DOCUMENT_CACHE_SIZE = 1_000;
const MAX_CACHED_QUERY_LENGTH = 10_000;

// A type alias, not an interface: graphql-ws wants an index-signature-compatible record.
export type SocketExtra = {
  principal?: Principal | null;
  clientAddress?: string;
  /** Kept to re-check the socket's credential when its user's access changes. */
  token?: string;
};

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

  // Registered before graphql-ws's own listener: counts frames and closes floods before they are parsed.
  wss.on('connection', (socket: WebSocket) => {
    if (socket.protocol !== GRAPHQL_WS_PROTOCOL) {
      socket.close(CloseCode.SubprotocolNotAcceptable, 'Only graphql-transport-ws is supported');
      return;
    }
    opts.metrics.websocketConnections.inc();
    let windowStart = Date.now();
    let count = 0;
    socket.on('message', () => {
      const now = Date.now();
      if (now - windowStart >= 1000) {
        windowStart = now;
        count = 0;
      }
      if (++count > MAX_WS_MESSAGES_PER_SECOND) socket.close(4429, 'Too many messages');
    });
    socket.once('close', () => opts.metrics.websocketConnections.dec());
  });

  // Sockets by user: when a user's access changes (deactivation, roles), their sockets re-authenticate and
  // those whose credential no longer holds are closed (4403) at once.
  const socketsByUser = new Map<string, Set<{ socket: WebSocket; extra: SocketExtra }>>();
  const stopWatching = opts.services.team.onAccessChanged((_organizationId, userId) => {
    for (const entry of socketsByUser.get(userId) ?? []) {
      const em = opts.orm.em.fork({ clear: true, useContext: false });
      void opts.services.authentication
        .authenticate(em, entry.extra.token ?? '')
        .then((principal) => {
          if (principal) entry.extra.principal = principal;
          // A moment's grace: the subscriptions' FORBIDDEN errors go out before the socket closes.
          else setTimeout(() => entry.socket.close(CloseCode.Forbidden, 'Forbidden'), 250).unref();
        })
        .catch((err) => opts.logger.warn({ err }, 'could not re-check a socket after an access change'));
    }
  });

  const rules = [...specifiedRules, ...VALIDATION_RULES, ...(opts.introspection ? [] : [NoSchemaIntrospectionCustomRule])];

  /**
   * Parsed and validated documents by source text: thousands of clients send the same few subscriptions, and
   * one shared document object is what lets subscribeShared execute an event once for all of them.
   */
  const documents = new Map<string, { document: DocumentNode } | { errors: readonly GraphQLError[] }>();
  const checkDocument = (query: string): { document: DocumentNode } | { errors: readonly GraphQLError[] } => {
    const cached = documents.get(query);
    if (cached) return cached;
    let checked: { document: DocumentNode } | { errors: readonly GraphQLError[] };
    try {
      const document = parse(query, { maxTokens: LIMITS.maxTokens });
      const errors = validate(opts.schema, document, rules);
      checked = errors.length
        ? {
            errors: errors.map((e) =>
              e.extensions?.code ? e : new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: ErrorCode.GRAPHQL_VALIDATION_FAILED } }),
            ),
          }
        : { document };
    } catch (err) {
      checked = { errors: [new GraphQLError((err as Error).message, { extensions: { code: ErrorCode.GRAPHQL_PARSE_FAILED } })] };
    }
    if (documents.size >= DOCUMENT_CACHE_SIZE) documents.clear();
    if (query.length <= MAX_CACHED_QUERY_LENGTH) documents.set(query, checked);
    return checked;
  };

  const serverCleanup = useServer<Record<string, unknown>, SocketExtra>(
    {
      schema: opts.schema,
      subscribe: subscribeShared,
      connectionInitWaitTimeout: 5_000,
      onConnect: async (ctx) => {
        const req = ctx.extra.request;
        ctx.extra.clientAddress = req.socket.remoteAddress ?? 'unknown';
        const token = bearerToken(ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization);
        if (!token) {
          // Anonymous sockets are allowed; every operation is still checked by @auth like over HTTP.
          ctx.extra.principal = null;
          return true;
        }
        const em = opts.orm.em.fork({ clear: true, useContext: false });
        const principal = await opts.services.authentication.authenticate(em, token);
        if (!principal) return false; // graphql-ws closes with 4403 Forbidden
        ctx.extra.principal = principal;
        ctx.extra.token = token;
        const socket = ctx.extra.socket as WebSocket;
        const entry = { socket, extra: ctx.extra };
        let set = socketsByUser.get(principal.userId);
        if (!set) socketsByUser.set(principal.userId, (set = new Set()));
        set.add(entry);
        socket.once('close', () => {
          set.delete(entry);
          if (set.size === 0) socketsByUser.delete(principal.userId);
        });
        return true;
      },
      onSubscribe: (_ctx, _id, payload): ExecutionArgs | readonly GraphQLError[] => {
        const checked = checkDocument(payload.query);
        if (!('document' in checked)) return checked.errors;
        if (containsNul(payload.variables)) return [nulError()];
        const document = checked.document;
        return {
          schema: opts.schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
        };
      },
      context: (ctx) =>
        buildContext(opts, {
          requestId: requestIdFrom(undefined),
          clientAddress: ctx.extra.clientAddress ?? 'unknown',
          token: null,
          principal: ctx.extra.principal ?? null,
          credential: ctx.extra.token,
        }),
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (!result.errors?.length) return result;
        return {
          ...result,
          errors: result.errors.map((e) =>
            formatError(e.toJSON(), e, (err) => opts.logger.error({ err }, 'unexpected error in websocket operation')),
          ),
        } as unknown as typeof result;
      },
      onError: (_ctx, _id, _payload, errors) =>
        errors.map((e) => formatError(e.toJSON(), e, (err) => opts.logger.error({ err }, 'unexpected websocket error'))) as never,
    },
    wss,
  );

  return {
    wss,
    /** Closes every socket with 1001 (going away) and stops graphql-ws. */
    async close(): Promise<void> {
      stopWatching();
      for (const client of wss.clients) client.close(1001, 'Server shutting down');
      await serverCleanup.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
