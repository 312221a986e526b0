/**
 * What other modules (and realtime) use of the inbox: the thread-visibility policy and the live queries.
 * Import the inbox through this file only (tests/foundation/boundaries.test.ts).
 */
export {
  groupsOf,
  loadGroups,
  mayReadThread,
  mayReadThreadsIn,
  maySeeAssignmentChange,
  maySeeThreadEvent,
  readsEveryThread,
  threadStreamAccess,
  type ThreadLike,
} from './thread-policy';
export { agentWorkload, availabilityOf, unreadThreadsOf, type AgentWorkloadRow, type UnreadThreadRow } from './live-queries';
export { Contact } from './contact.entity';
export { DeliveryStatus, Message, MessageDirection, Thread } from './thread.entity';
export { WorkspaceSettings } from './catalogue.entity';
export { normalizeEmailAddress, normalizePhone } from './addresses';
export type { ChannelProvider } from './channel';
export { ImportReport } from './inbox.types';
export type { MessagingService } from './messaging.service';
export { applyParkedReceipts } from './messaging.service';
export { providerMessageIdsLock } from './parked-receipts';
