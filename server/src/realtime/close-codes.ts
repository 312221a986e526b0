/**
 * Every close code the server sends on a websocket, in one place (client-sdk/src/close-codes.ts says what the
 * SDK does about each). graphql-ws itself also closes with its own protocol codes (4400 bad request, 4401
 * unauthorized, 4403 forbidden on a refused connection_init, 4408 init timeout, 4409 duplicate id, 4500).
 */
export enum ServerCloseCode {
  /** The server is shutting down; the client reconnects (to another process) and resumes from its cursor. */
  GOING_AWAY = 1001,
  /** A socket's credential could not be re-checked (the database was unreachable); reconnect later. */
  TRY_AGAIN_LATER = 1013,
  /** The socket did not read its events fast enough (see realtime/backpressure.ts); resume from the cursor. */
  SLOW_CONSUMER = 4008,
  /** The socket's credential was refused or no longer holds (graphql-ws's Forbidden). */
  FORBIDDEN = 4403,
  /** The socket did not ask for graphql-transport-ws. */
  SUBPROTOCOL_NOT_ACCEPTABLE = 4406,
  /** The socket sent more messages per second than allowed (http/websocket.ts MAX_WS_MESSAGES_PER_SECOND). */
  TOO_MANY_MESSAGES = 4429,
}
