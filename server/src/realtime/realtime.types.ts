import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Auth } from '../graphql/auth';
import { Permission } from '../modules/identity';
import { EventType } from './events';

registerEnumType(EventType, { name: 'LiveEventType', description: 'What happened.' });

@ObjectType({ description: 'A thread as it is after the event.' })
@Auth(Permission.THREADS_READ)
export class ThreadSnapshot {
  @Field(() => ID) id!: string;
  @Field(() => ID) workspaceId!: string;
  @Field() status!: string;
  @Field() archived!: boolean;
  @Field() needsResponse!: boolean;
  @Field(() => ID, { nullable: true }) assigneeUserId!: string | null;
  @Field(() => ID, { nullable: true }) assigneeGroupId!: string | null;
  @Field() lastActivityAt!: string;
}

@ObjectType({ description: 'A message carried by an event.' })
@Auth(Permission.THREADS_READ)
export class MessageSnapshot {
  @Field(() => ID) id!: string;
  @Field(() => ID) workspaceId!: string;
  @Field() direction!: string;
  @Field(() => String, { nullable: true, description: 'Hidden from those without MESSAGES_READ_BODY (viewers).' })
  @Auth(Permission.MESSAGES_READ_BODY)
  body!: string;
  @Field() status!: string;
  @Field(() => ID, { nullable: true }) authorId!: string | null;
  @Field() automated!: boolean;
  @Field() createdAt!: string;
}

@ObjectType({ description: 'An internal note carried by an event.' })
@Auth(Permission.NOTES_READ)
export class NoteSnapshot {
  @Field(() => ID) id!: string;
  @Field(() => ID) workspaceId!: string;
  @Field(() => ID) authorId!: string;
  @Field() body!: string;
  @Field() createdAt!: string;
}

@ObjectType({ description: 'An assignment change carried by an event.' })
@Auth(Permission.THREADS_READ)
export class AssignmentSnapshot {
  @Field(() => ID) workspaceId!: string;
  @Field() kind!: string;
  @Field(() => ID, { nullable: true }) actorId!: string | null;
  @Field(() => ID, { nullable: true }) fromUserId!: string | null;
  @Field(() => ID, { nullable: true }) fromGroupId!: string | null;
  @Field(() => ID, { nullable: true }) toUserId!: string | null;
  @Field(() => ID, { nullable: true }) toGroupId!: string | null;
  @Field(() => String, { nullable: true }) reason!: string | null;
}

@ObjectType({ description: 'A keyword alert carried by an event.' })
@Auth(Permission.KEYWORD_ALERTS_RECEIVE)
export class AlertSnapshot {
  @Field(() => ID) id!: string;
  @Field(() => ID) workspaceId!: string;
  @Field(() => ID) ruleId!: string;
  @Field(() => ID) messageId!: string;
  @Field() matched!: string;
}

@ObjectType({ description: 'One event of the live stream. Keep `cursor`: subscribing with `after: cursor` resumes with no gap.' })
@Auth([])
export class LiveEvent {
  @Field({ description: 'Resume position: pass as `after` to continue after this event.' }) cursor!: string;
  @Field(() => EventType) type!: EventType;
  @Field(() => ID) workspaceId!: string;
  @Field(() => ID, { nullable: true }) threadId!: string | null;
  @Field() occurredAt!: string;
  @Field(() => ThreadSnapshot, { nullable: true }) thread!: ThreadSnapshot | null;
  @Field(() => MessageSnapshot, { nullable: true }) message!: MessageSnapshot | null;
  @Field(() => NoteSnapshot, { nullable: true }) note!: NoteSnapshot | null;
  @Field(() => [ID], { nullable: true }) tagIds!: string[] | null;
  @Field(() => AssignmentSnapshot, { nullable: true }) assignment!: AssignmentSnapshot | null;
  @Field(() => AlertSnapshot, { nullable: true }) alert!: AlertSnapshot | null;
}

@ObjectType({ description: "One agent's line on the live dashboard." })
@Auth(Permission.AGENT_DASHBOARD_VIEW, { scope: 'anywhere' })
export class AgentStatus {
  @Field(() => ID) userId!: string;
  @Field() name!: string;
  @Field() availability!: string;
  @Field(() => Int, { description: 'Open threads assigned to the agent.' }) openThreads!: number;
  @Field(() => Int, { description: 'Of those, the ones waiting for a reply.' }) waitingThreads!: number;
  @Field(() => Int, { nullable: true, description: 'Median seconds to first response on threads answered today (UTC).' })
  medianFirstResponseSeconds!: number | null;
  @Field(() => Int, { description: 'Orders the agent created today (UTC).' }) ordersCreatedToday!: number;
  @Field(() => Int, { description: 'Orders of theirs paid today (UTC).' }) ordersPaidToday!: number;
}

@ObjectType({ description: 'The live agent dashboard of a workspace: a snapshot, then a new one when something changes.' })
@Auth(Permission.AGENT_DASHBOARD_VIEW)
export class AgentDashboard {
  @Field(() => ID) workspaceId!: string;
  @Field() generatedAt!: string;
  @Field(() => [AgentStatus]) agents!: AgentStatus[];
}

@ObjectType({ description: "The subscriber's unread badge for a workspace." })
@Auth(Permission.THREADS_READ)
export class UnreadBadge {
  @Field(() => ID) workspaceId!: string;
  @Field(() => Int, { description: 'Threads with unread inbound messages.' }) threads!: number;
  @Field(() => Int, { description: 'Unread inbound messages.' }) messages!: number;
}
