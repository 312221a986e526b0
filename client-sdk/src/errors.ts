import { SERVER_ERROR_CODES, type ServerErrorCode } from './generated/error-codes.js';

/**
 * Codes the SDK produces itself:
 * - NETWORK_ERROR: the server could not be reached over HTTP, or a subscription's connection was lost and it
 *   may not resume (`resume: false`, or `retry.maxAttempts` used up).
 * - CONNECTION_REFUSED: the server closed the socket with a protocol close code a retry cannot fix.
 * - SUBSCRIPTION_COMPLETED: the server ended a live subscription on its own (it never does today); the caller
 *   hears of it instead of the stream simply stopping.
 */
export const CLIENT_ERROR_CODES = ['NETWORK_ERROR', 'CONNECTION_REFUSED', 'SUBSCRIPTION_COMPLETED'] as const;
export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number];

/** Every error code an SDK call can fail with: the server's (generated from its ErrorCode enum) and the SDK's. */
export type SwitchboardErrorCode = ServerErrorCode | ClientErrorCode;
export { SERVER_ERROR_CODES, type ServerErrorCode };

const KNOWN_CODES = new Set<string>([...SERVER_ERROR_CODES, ...CLIENT_ERROR_CODES]);

export interface GraphQLErrorShape {
  message: string;
  path?: ReadonlyArray<string | number>;
  extensions?: { code?: string; [key: string]: unknown };
}

/** A failed operation: `code` is the server's extensions.code, or one of the SDK's own (CLIENT_ERROR_CODES). */
export class SwitchboardError extends Error {
  readonly code: SwitchboardErrorCode;
  readonly errors: readonly GraphQLErrorShape[];
  readonly status?: number;
  /** The websocket close code, when the error comes from a closed connection. */
  readonly closeCode?: number;

  constructor(code: SwitchboardErrorCode, message: string, errors: readonly GraphQLErrorShape[] = [], status?: number, closeCode?: number) {
    super(message);
    this.name = 'SwitchboardError';
    this.code = code;
    this.errors = errors;
    this.status = status;
    this.closeCode = closeCode;
  }

  static from(errors: readonly GraphQLErrorShape[], status?: number): SwitchboardError {
    const first = errors[0];
    const code = first?.extensions?.code;
    return new SwitchboardError(typeof code === 'string' && KNOWN_CODES.has(code) ? (code as SwitchboardErrorCode) : 'INTERNAL_SERVER_ERROR', first?.message ?? 'Unknown error', errors, status);
  }
}
