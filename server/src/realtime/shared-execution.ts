import { createSourceEventStream, execute, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { Principal } from '../modules/identity';
import type { RequestContext } from '../graphql/context';
import { Permission } from '../modules/identity';
import { PushQueue } from './queue';
import { sharePayload, SocketWriter, type SharedPayload } from './delivery';

type Result = ExecutionResult | Promise<ExecutionResult>;

const ALL_PERMISSIONS = Object.values(Permission) as Permission[];

/**
 * What decides a subscriber's view of an event: the organization and the permissions that hold in the
 * event's workspace. Live event types have no viewer-specific fields, so two subscribers with the same key,
 * document and variables get the same result. Cached per principal object (a new one replaces it when
 * access changes).
 */
const keysByPrincipal = new WeakMap<Principal, Map<string, string>>();
function permissionKey(principal: Principal, workspaceId: string): string {
  let byWorkspace = keysByPrincipal.get(principal);
  if (!byWorkspace) keysByPrincipal.set(principal, (byWorkspace = new Map()));
  let key = byWorkspace.get(workspaceId);
  if (key === undefined) {
    key = `${principal.organizationId}:${ALL_PERMISSIONS.map((p) => (principal.access.can(p, workspaceId) ? '1' : '0')).join('')}`;
    byWorkspace.set(workspaceId, key);
  }
  return key;
}

/** Results per event object, then per (document, variables, permission key); dropped with the event. */
interface Shared {
  result: Result;
  /** The result as JSON text, made on first use by a socket writer. */
  payload?: SharedPayload;
}
const resultsByEvent = new WeakMap<object, WeakMap<DocumentNode, Map<string, Map<string, Shared>>>>();

function executeShared(args: ExecutionArgs, argsKey: string, event: unknown): Shared {
  const ctx = args.contextValue as RequestContext | undefined;
  const workspaceId = (event as { workspaceId?: unknown } | null)?.workspaceId;
  if (!ctx?.principal || typeof workspaceId !== 'string' || typeof event !== 'object' || event === null) {
    return { result: execute({ ...args, rootValue: event }) };
  }
  let byDocument = resultsByEvent.get(event);
  if (!byDocument) resultsByEvent.set(event, (byDocument = new WeakMap()));
  let byView = byDocument.get(args.document);
  if (!byView) byDocument.set(args.document, (byView = new Map()));
  // Two lookups by strings made once (the view's key per principal, the arguments' per operation), so a
  // subscriber builds no string per event.
  const view = permissionKey(ctx.principal, workspaceId);
  let byArgs = byView.get(view);
  if (!byArgs) byView.set(view, (byArgs = new Map()));
  let shared = byArgs.get(argsKey);
  if (!shared) {
    shared = { result: execute({ ...args, rootValue: event }) };
    byArgs.set(argsKey, shared);
  }
  return shared;
}

/** Where an operation's results go when they are written straight to its socket (http/websocket.ts binds it). */
export interface OperationOutput {
  /** The operation id graphql-ws gave it. */
  id: string;
  writer: SocketWriter;
  /** What every result goes through before it is sent (error formatting, as graphql-ws's onNext would). */
  format(result: ExecutionResult): ExecutionResult;
  /** Drops what subscribing loaded into the context (its EntityManager, memo), once the stream is open. */
  release?(): void;
}

const outputs = new WeakMap<object, OperationOutput>();

/** Results of the subscription run with this context are written to this socket directly. */
export function bindOperationOutput(context: object, output: OperationOutput): void {
  outputs.set(context, output);
}

/**
 * The direct path: each event the source queue receives is executed once per view (shared), serialised once
 * (shared) and written to the socket with this operation's id spliced in, synchronously from the hub. graphql-ws
 * still owns the operation: the iterator it gets yields nothing and ends (or fails) when the stream does, so
 * `complete` and `error` messages go out as before.
 */
function writeDirect(source: PushQueue<unknown>, args: ExecutionArgs, argsKey: string, output: OperationOutput): AsyncGenerator<ExecutionResult, void, void> {
  const prefix = SocketWriter.prefix(output.id);
  source.drainTo((event) => {
    const shared = executeShared(args, argsKey, event);
    shared.payload ??= sharePayload(shared.result, output.format);
    output.writer.write(prefix, shared.payload);
  }, () => output.writer.ready());
  return source as unknown as AsyncGenerator<ExecutionResult, void, void>;
}

function mapAsyncIterator<T, U>(iterable: AsyncIterable<T>, fn: (value: T) => U | Promise<U>): AsyncGenerator<U, void, void> {
  const iterator = iterable[Symbol.asyncIterator]();
  const close = async () => {
    await iterator.return?.();
  };
  const mapped = async (result: IteratorResult<T>): Promise<IteratorResult<U, void>> => {
    if (result.done) return { value: undefined, done: true };
    try {
      return { value: await fn(result.value), done: false };
    } catch (error) {
      await close().catch(() => undefined);
      throw error;
    }
  };
  const generator: AsyncGenerator<U, void, void> = {
    next: async () => mapped(await iterator.next()),
    return: async () => {
      await close();
      return { value: undefined, done: true };
    },
    throw: async (error: unknown) => {
      if (iterator.throw) return mapped(await iterator.throw(error));
      await close();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return generator;
    },
  } as AsyncGenerator<U, void, void>;
  return generator;
}

/**
 * graphql-js `subscribe`, except that each event is executed once per distinct view (see permissionKey)
 * and the result shared by every subscriber with that view: fan-out to 10k sockets runs the resolvers a
 * handful of times, not 10k times. Per-event authorisation has already happened in the source stream. On a
 * websocket (an operation output is bound) the serialised result is shared too and written directly.
 */
export async function subscribeShared(args: ExecutionArgs): Promise<AsyncGenerator<ExecutionResult, void, void> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  const output = args.contextValue ? outputs.get(args.contextValue) : undefined;
  // What subscribing loaded (the @auth object scope's EntityManager and loaders) is not kept for hours.
  output?.release?.();
  if (!(Symbol.asyncIterator in (source as object))) return source as ExecutionResult;
  const argsKey = `${args.operationName ?? ''}|${JSON.stringify(args.variableValues ?? {})}`;
  if (output && source instanceof PushQueue) return writeDirect(source, args, argsKey, output);
  return mapAsyncIterator(source as AsyncIterable<unknown>, (event) => executeShared(args, argsKey, event).result);
}
