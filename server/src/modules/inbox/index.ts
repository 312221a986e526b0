/**
 * What other modules (and realtime) use of the inbox: the thread-visibility policy and the live queries.
 * Import the inbox through this file only (tests/foundation/boundaries.test.ts).
 */
export {
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
