export { createSwitchboardClient, type SwitchboardClient, type SwitchboardClientOptions, type SubscribeOptions } from './client.js';
export { SwitchboardError, type SwitchboardErrorCode, type GraphQLErrorShape } from './errors.js';
/** Every operation of the API as a typed document (generated from schema/schema.graphql). */
export * from './generated/graphql.js';
export { graphql } from './generated/gql.js';
