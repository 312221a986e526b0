import type { SwitchboardErrorCode } from './errors.js';

/** Close codes the server (or the network) uses, and what the SDK does about each. */
export const CloseCodes = {
  /** The SDK closed the socket (dispose, or no subscription left). */
  NORMAL: 1000,
  /** The server is shutting down or restarting. */
  GOING_AWAY: 1001,
  /** No close frame: the process died, the network dropped, or the server was never reached. */
  ABNORMAL: 1006,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  /** The server closed a socket that did not read its events fast enough; resume from the cursor. */
  SLOW_CONSUMER: 4008,
  BAD_REQUEST: 4400,
  UNAUTHORIZED: 4401,
  FORBIDDEN: 4403,
  SUBPROTOCOL_NOT_ACCEPTABLE: 4406,
  CONNECTION_INIT_TIMEOUT: 4408,
  SUBSCRIBER_ALREADY_EXISTS: 4409,
  TOO_MANY_MESSAGES: 4429,
  /** The SDK's own: no pong to a keep-alive ping in time (a half-open socket). */
  NO_PONG: 4499,
  INTERNAL_SERVER_ERROR: 4500,
  ACK_TIMEOUT: 4504,
} as const;

/** What a close means for the subscriptions on the socket. */
export type CloseOutcome = { kind: 'resume' } | { kind: 'fail'; code: SwitchboardErrorCode };

/**
 * Closes that a later connection may not see again resume every subscription from its cursor (with backoff);
 * the others end every subscription with a typed error. An unknown code is taken as transient: ending a
 * stream on a code nobody documented would be a silent loss of service.
 */
export function closeOutcome(code: number): CloseOutcome {
  switch (code) {
    case CloseCodes.UNAUTHORIZED:
      return { kind: 'fail', code: 'UNAUTHENTICATED' };
    case CloseCodes.FORBIDDEN:
      // The credential was refused or lost its access: retrying with the same one cannot help.
      return { kind: 'fail', code: 'FORBIDDEN' };
    case CloseCodes.BAD_REQUEST:
    case CloseCodes.SUBPROTOCOL_NOT_ACCEPTABLE:
    case CloseCodes.SUBSCRIBER_ALREADY_EXISTS:
    case 4004: // bad response (the SDK could not read the server)
    case 4005: // internal client error
      return { kind: 'fail', code: 'CONNECTION_REFUSED' };
    default:
      // 1000/1001/1005/1006/1011/1012/1013, 4008 slow consumer, 4408/4504 handshake timeouts, 4429 (the SDK
      // paces its messages below the server's limit, so a later attempt passes), 4499, 4500.
      return { kind: 'resume' };
  }
}
