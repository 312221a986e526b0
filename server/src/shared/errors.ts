// The domain's errors: services throw these, below any transport. graphql/errors.ts is the one place that turns
// them into what a client sees.

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
  // Peer-to-peer campaigns: the caller has not joined the campaign through one of its texter links.
  NOT_CAMPAIGN_TEXTER = 'NOT_CAMPAIGN_TEXTER',
  CURSOR_EXPIRED = 'CURSOR_EXPIRED',
  UNAVAILABLE = 'UNAVAILABLE',
  // Orders and payments (modules/commerce): the order's or payment's state forbids the step.
  INVALID_TRANSITION = 'INVALID_TRANSITION',
  ORDER_CANCELLED = 'ORDER_CANCELLED',
  ALREADY_RECONCILED = 'ALREADY_RECONCILED',
  AMOUNT_MISMATCH = 'AMOUNT_MISMATCH',
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
