export { createSwitchboardClient, type SwitchboardClient, type SwitchboardClientOptions, type SubscribeOptions } from './client.js';
export type { LiveSubscription } from './live-subscription.js';
export type { ConnectionChange } from './connection.js';
export { CloseCodes, closeOutcome, type CloseOutcome } from './close-codes.js';
export {
  SwitchboardError,
  SERVER_ERROR_CODES,
  CLIENT_ERROR_CODES,
  type SwitchboardErrorCode,
  type ServerErrorCode,
  type ClientErrorCode,
  type GraphQLErrorShape,
} from './errors.js';
/** Every operation of the API as a typed document (generated from schema/schema.graphql). */
export * from './generated/graphql.js';
export { graphql } from './generated/gql.js';
