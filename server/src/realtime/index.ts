/**
 * The write side of realtime, for the domain modules: append an event to the log inside the mutation's
 * transaction, record an access change, and the event types. The read side (live subscriptions, badges,
 * dashboards) is wired by graphql/schema.ts and http/websocket.ts, not imported by modules, so nothing here
 * leads back into a module (tests/foundation/boundaries.test.ts).
 */
export { appendEvent, appendEvents, readLog, type LogPosition } from './event-log';
export { recordAccessChange } from './access-changes';
export { LogConsumer, type LogConsumerOptions } from './log-consumer';
export { AccessChangeKind, EventType, OrderEventType, EXPORT_PROGRESS, type ExportProgressState, type OrderState, type CampaignProgressState, type NewEvent, type AccessChange, type EventPayload, type LoggedEvent, type MessageState, type ThreadState } from './events';
