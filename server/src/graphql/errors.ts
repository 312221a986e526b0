import { GraphQLError, type ASTNode, type GraphQLFormattedError } from 'graphql';
import { DomainError, ErrorCode } from '../shared/errors';

export function toGraphQLError(error: DomainError): GraphQLError {
  return new GraphQLError(error.message, { extensions: { code: error.code, ...error.details } });
}

/**
 * A coded error raised outside a service: by a validation rule (`nodes`), the transport or the context
 * builder. `httpStatus` tells Apollo the status of the HTTP answer (it strips the key from the body).
 */
export function codedError(code: ErrorCode, message: string, opts: { nodes?: ASTNode | readonly ASTNode[]; httpStatus?: number } = {}): GraphQLError {
  return new GraphQLError(message, { nodes: opts.nodes, extensions: { code, ...(opts.httpStatus ? { http: { status: opts.httpStatus } } : {}) } });
}

/** The error that refuses or ends a live stream (a subscription, a socket's credential): coded as everywhere else. */
export function liveError(code: ErrorCode, message: string): GraphQLError {
  return codedError(code, message);
}

/** The body of a plain HTTP error (an unknown path, a malformed body), shaped like a GraphQL answer. */
export function httpErrorBody(code: ErrorCode, message: string): { errors: Array<{ message: string; extensions: { code: ErrorCode } }> } {
  return { errors: [{ message, extensions: { code } }] };
}

const OWN_CODES = new Set<string>([
  ErrorCode.QUERY_TOO_COMPLEX,
  ErrorCode.FORBIDDEN,
  ErrorCode.UNAUTHENTICATED,
  ErrorCode.NOT_FOUND,
  ErrorCode.BAD_USER_INPUT,
]);

/** Codes graphql-js and Apollo produce themselves that are ours too; we keep them as they are. */
const PASSTHROUGH_CODES = new Set<string>(Object.values(ErrorCode));
/** Apollo's request-level codes outside our list become BAD_REQUEST (the message is kept). */
const REQUEST_CODES = new Set<string>(['PERSISTED_QUERY_NOT_SUPPORTED']);

const TOO_MANY_VARIABLE_ERRORS = /^Too many errors processing variables/;

/**
 * The one place where errors become what a client sees. Domain errors keep their code and message;
 * anything unexpected becomes INTERNAL_SERVER_ERROR with no message detail and no stack (the log has it).
 */
export function formatError(
  formatted: GraphQLFormattedError,
  error: unknown,
  onUnexpected: (error: unknown) => void,
): GraphQLFormattedError {
  const original = unwrap(error);
  if (original instanceof DomainError) {
    return {
      message: original.message,
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: original.code, ...original.details },
    };
  }
  // Apollo re-labels every validation error GRAPHQL_VALIDATION_FAILED; our own rules' codes win.
  if (original instanceof GraphQLError && typeof original.extensions?.code === 'string' && OWN_CODES.has(original.extensions.code)) {
    return { message: formatted.message, locations: formatted.locations, path: formatted.path, extensions: { ...original.extensions } };
  }
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && REQUEST_CODES.has(code)) {
    return { message: formatted.message, locations: formatted.locations, extensions: { code: ErrorCode.BAD_REQUEST } };
  }
  if (typeof code === 'string' && PASSTHROUGH_CODES.has(code) && code !== ErrorCode.INTERNAL) {
    // type-graphql's argument validation speaks its own dialect; keep the code we document.
    const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  if (original instanceof GraphQLError && !original.originalError && !code) {
    // graphql-js's own errors (e.g. a variable of the wrong type coerced during execution).
    return { ...formatted, extensions: { code: ErrorCode.BAD_USER_INPUT } };
  }
  if (original instanceof GraphQLError && !original.originalError && TOO_MANY_VARIABLE_ERRORS.test(original.message)) {
    // graphql-js stops coercing variables after 50 errors with a code-less error: still the client's input.
    return { message: formatted.message, extensions: { code: ErrorCode.BAD_USER_INPUT } };
  }
  const fromInput = databaseInputError(original);
  if (fromInput) {
    // Still logged: a service let this input reach SQL, and should check it first.
    onUnexpected(original);
    return { message: fromInput.message, locations: formatted.locations, path: formatted.path, extensions: { code: fromInput.code } };
  }
  onUnexpected(original);
  return {
    message: 'Internal server error',
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: ErrorCode.INTERNAL },
  };
}

/**
 * Last resort for input that reached the database unchecked: a Postgres error of the client's making (bad
 * text, out-of-range number or date, duplicate, dangling reference) is a typed refusal, never a 500. The
 * transaction has rolled back, so nothing changed. Services should still check first; this only catches.
 */
function databaseInputError(error: unknown): { code: ErrorCode; message: string } | null {
  const sqlState = sqlStateOf(error);
  if (!sqlState) return null;
  if (sqlState === '23505') return { code: ErrorCode.CONFLICT, message: 'This already exists' };
  if (sqlState === '23503') return { code: ErrorCode.NOT_FOUND, message: 'A referenced record was not found' };
  // Class 22 (data exception: 22P02 bad text for a type, 22021 bad encoding, 22001 too long, 22003 out of
  // range, 22007/22008 bad datetime, 22P05 untranslatable character), other integrity violations (23502 not
  // null, 23514 check) and 54000 (e.g. an index row too large for a huge text value).
  if (sqlState.startsWith('22') || sqlState === '23502' || sqlState === '23514' || sqlState === '54000') {
    return { code: ErrorCode.BAD_USER_INPUT, message: 'The input is not valid here' };
  }
  return null;
}

/** The SQLSTATE of a node-postgres error, or of the MikroORM exception that copied its fields. */
function sqlStateOf(error: unknown): string | null {
  let current: unknown = error;
  for (let i = 0; i < 4 && current && typeof current === 'object'; i++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { previous?: unknown; cause?: unknown }).previous ?? (current as { cause?: unknown }).cause;
  }
  return null;
}

function unwrap(error: unknown): unknown {
  let current = error;
  for (let i = 0; i < 5; i++) {
    if (current instanceof GraphQLError && current.originalError) current = current.originalError;
    else break;
  }
  return current;
}
