import { GraphQLError, type GraphQLFormattedError } from 'graphql';

/**
 * Every error code a client can see. Clients switch on `extensions.code`; messages are for humans.
 * Adding a code is an API change: keep docs/ERRORS in the README in step.
 */
export enum ErrorCode {
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  NOT_FOUND = 'NOT_FOUND',
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  GRAPHQL_PARSE_FAILED = 'GRAPHQL_PARSE_FAILED',
  GRAPHQL_VALIDATION_FAILED = 'GRAPHQL_VALIDATION_FAILED',
  QUERY_TOO_COMPLEX = 'QUERY_TOO_COMPLEX',
  RATE_LIMITED = 'RATE_LIMITED',
  CONFLICT = 'CONFLICT',
  INVALID_CREDENTIALS = 'INVALID_CREDENTIALS',
  INVITATION_EXPIRED = 'INVITATION_EXPIRED',
  INVITATION_USED = 'INVITATION_USED',
  INVITATION_REVOKED = 'INVITATION_REVOKED',
  INVITATION_INVALID = 'INVITATION_INVALID',
  LAST_OWNER = 'LAST_OWNER',
  OPTED_OUT = 'OPTED_OUT',
  CURSOR_EXPIRED = 'CURSOR_EXPIRED',
  UNAVAILABLE = 'UNAVAILABLE',
  INTERNAL = 'INTERNAL_SERVER_ERROR',
  // Produced by the HTTP layer and Apollo before any resolver runs: a malformed or CSRF-blocked request, an
  // operation name the document lacks, an automatic persisted query the server has not seen yet (the client
  // then sends the full text). Introspection while it is off is GRAPHQL_VALIDATION_FAILED with
  // `validationErrorCode: INTROSPECTION_DISABLED` beside it.
  BAD_REQUEST = 'BAD_REQUEST',
  OPERATION_RESOLUTION_FAILURE = 'OPERATION_RESOLUTION_FAILURE',
  PERSISTED_QUERY_NOT_FOUND = 'PERSISTED_QUERY_NOT_FOUND',
}

/** A rule of the domain was broken. Services throw these; only this module turns them into GraphQL errors. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const forbidden = (message = 'You do not have permission to do this') =>
  new DomainError(ErrorCode.FORBIDDEN, message);
export const notFound = (what: string) => new DomainError(ErrorCode.NOT_FOUND, `${what} not found`);
export const badInput = (message: string, details: Record<string, unknown> = {}) =>
  new DomainError(ErrorCode.BAD_USER_INPUT, message, details);
export const unauthenticated = (message = 'Authentication required') =>
  new DomainError(ErrorCode.UNAUTHENTICATED, message);

export function toGraphQLError(error: DomainError): GraphQLError {
  return new GraphQLError(error.message, { extensions: { code: error.code, ...error.details } });
}

const OWN_CODES = new Set<string>([ErrorCode.QUERY_TOO_COMPLEX, ErrorCode.FORBIDDEN, ErrorCode.UNAUTHENTICATED, ErrorCode.NOT_FOUND]);

/** Codes graphql-js and Apollo produce themselves; we keep them as they are. */
const PASSTHROUGH_CODES = new Set<string>(Object.values(ErrorCode));

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
  if (typeof code === 'string' && PASSTHROUGH_CODES.has(code) && code !== ErrorCode.INTERNAL) {
    // type-graphql's argument validation speaks its own dialect; keep the code we document.
    const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  if (original instanceof GraphQLError && !original.originalError && !code) {
    // graphql-js's own errors (e.g. a variable of the wrong type coerced during execution).
    return { ...formatted, extensions: { code: ErrorCode.BAD_USER_INPUT } };
  }
  onUnexpected(original);
  return {
    message: 'Internal server error',
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: ErrorCode.INTERNAL },
  };
}

function unwrap(error: unknown): unknown {
  let current = error;
  for (let i = 0; i < 5; i++) {
    if (current instanceof GraphQLError && current.originalError) current = current.originalError;
    else break;
  }
  return current;
}
