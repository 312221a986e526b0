/** Every error code the server sends (extensions.code). */
export type SwitchboardErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'BAD_REQUEST'
  | 'GRAPHQL_PARSE_FAILED'
  | 'GRAPHQL_VALIDATION_FAILED'
  | 'QUERY_TOO_COMPLEX'
  | 'RATE_LIMITED'
  | 'CONFLICT'
  | 'INVALID_CREDENTIALS'
  | 'INVITATION_EXPIRED'
  | 'INVITATION_USED'
  | 'INVITATION_REVOKED'
  | 'INVITATION_INVALID'
  | 'LAST_OWNER'
  | 'OPTED_OUT'
  | 'CURSOR_EXPIRED'
  | 'UNAVAILABLE'
  | 'INTERNAL_SERVER_ERROR'
  | 'NETWORK_ERROR';

export interface GraphQLErrorShape {
  message: string;
  path?: ReadonlyArray<string | number>;
  extensions?: { code?: string; [key: string]: unknown };
}

/** A failed operation: `code` is the server's extensions.code (or NETWORK_ERROR when it could not be reached). */
export class SwitchboardError extends Error {
  readonly code: SwitchboardErrorCode;
  readonly errors: readonly GraphQLErrorShape[];
  readonly status?: number;

  constructor(code: SwitchboardErrorCode, message: string, errors: readonly GraphQLErrorShape[] = [], status?: number) {
    super(message);
    this.name = 'SwitchboardError';
    this.code = code;
    this.errors = errors;
    this.status = status;
  }

  static from(errors: readonly GraphQLErrorShape[], status?: number): SwitchboardError {
    const first = errors[0];
    return new SwitchboardError((first?.extensions?.code as SwitchboardErrorCode) ?? 'INTERNAL_SERVER_ERROR', first?.message ?? 'Unknown error', errors, status);
  }
}
