import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Public } from '../../graphql/auth';
import { ConnectionType } from '../../graphql/pagination';
import { ReadAuditEntry } from './read-audit.entity';
import { ReportGroupBy } from './reports.service';

registerEnumType(ReportGroupBy, { name: 'ReportGroupBy', description: 'What a conversation report has one row per.' });

const GUARDED = 'a report result: the query that returns it carries the @auth';

@InputType({ description: 'Calendar days in the workspace time zone, both included; at most 366 days.' })
export class ReportPeriodInput {
  @Field({ description: 'YYYY-MM-DD' })
  from!: string;

  @Field({ description: 'YYYY-MM-DD, inclusive' })
  to!: string;
}

@InputType()
export class ConversationReportFilter {
  @Field(() => Boolean, { nullable: true, description: 'Include the workspaces below this one.' })
  subtree?: boolean | null;

  @Field(() => [ID], { nullable: true })
  agentIds?: string[] | null;

  @Field(() => [ID], { nullable: true })
  groupIds?: string[] | null;

  @Field(() => ID, { nullable: true, description: 'Only threads carrying this tag.' })
  tagId?: string | null;

  @Field(() => [ID], { nullable: true })
  campaignIds?: string[] | null;

  @Field(() => [String], { nullable: true, description: 'Only threads over these channels ("sms", "whatsapp"...).' })
  channels?: string[] | null;
}

@ObjectType('ReportPeriod')
@Public(GUARDED)
export class ReportPeriodType {
  @Field()
  from!: string;

  @Field()
  to!: string;
}

@ObjectType({ description: 'Durations over the rows: median and p90 are interpolated within histogram buckets.' })
@Public(GUARDED)
export class DurationStatsType {
  @Field(() => Int)
  count!: number;

  @Field(() => Float, { nullable: true })
  averageSeconds!: number | null;

  @Field(() => Float, { nullable: true })
  medianSeconds!: number | null;

  @Field(() => Float, { nullable: true })
  p90Seconds!: number | null;
}

@ObjectType()
@Public(GUARDED)
export class ConversationReportRowType {
  @Field(() => String, { nullable: true, description: 'The agent, group, tag or campaign id, the channel, the local day (YYYY-MM-DD) or hour (YYYY-MM-DDTHH:00); null: none (unassigned, no group, no campaign).' })
  key!: string | null;

  @Field(() => Int) threadsOpened!: number;
  @Field(() => Int) messagesIn!: number;
  @Field(() => Int) messagesOut!: number;
  @Field(() => Int) closed!: number;
  @Field(() => Int) transferred!: number;
  @Field(() => Int, { description: 'Threads marked as not needing a response.' }) notNeedingResponse!: number;
  @Field(() => DurationStatsType, { description: "From a contact's first inbound message to the first reply a person wrote." })
  firstResponse!: DurationStatsType;

  @Field(() => DurationStatsType, { description: 'From opening (or reopening) to closing.' })
  resolution!: DurationStatsType;
}

@ObjectType()
@Public(GUARDED)
export class ConversationReportType {
  @Field(() => [ID])
  workspaceIds!: string[];

  @Field(() => ReportPeriodType)
  period!: ReportPeriodType;

  @Field(() => ReportGroupBy)
  groupBy!: ReportGroupBy;

  @Field(() => [ConversationReportRowType])
  rows!: ConversationReportRowType[];

  @Field(() => ConversationReportRowType)
  total!: ConversationReportRowType;
}

@ObjectType()
@Public(GUARDED)
export class UsageTotalsType {
  @Field(() => Int) messagesSent!: number;
  @Field(() => Int) messagesReceived!: number;
  @Field(() => Int) segmentsSent!: number;
  @Field(() => Int) delivered!: number;
  @Field(() => Int) failed!: number;
  @Field(() => Int) campaignMessagesSent!: number;
  @Field(() => Int) threadsOpened!: number;
  @Field(() => Int) contactsCreated!: number;
  @Field(() => Int, { description: 'People who wrote, noted, assigned or read a thread.' }) activeUsers!: number;
}

@ObjectType()
@Public(GUARDED)
export class UsageDayType extends UsageTotalsType {
  @Field({ description: 'YYYY-MM-DD, in the workspace time zone' })
  day!: string;
}

@ObjectType()
@Public(GUARDED)
export class WorkspaceUsageType {
  @Field(() => ID)
  workspaceId!: string;

  @Field(() => [UsageDayType], { description: 'Days with any activity, in order.' })
  days!: UsageDayType[];

  @Field(() => UsageTotalsType)
  total!: UsageTotalsType;
}

@ObjectType()
@Public(GUARDED)
export class WorkspaceUsageTotalType {
  @Field(() => ID)
  workspaceId!: string;

  @Field(() => UsageTotalsType)
  total!: UsageTotalsType;
}

@ObjectType()
@Public(GUARDED)
export class OrganizationUsageType {
  @Field(() => ReportPeriodType)
  period!: ReportPeriodType;

  @Field(() => [WorkspaceUsageTotalType], { description: 'Every workspace of the organization.' })
  workspaces!: WorkspaceUsageTotalType[];

  @Field(() => UsageTotalsType, { description: 'All workspaces together (a person active in two counts once).' })
  total!: UsageTotalsType;
}

export const ReadAuditConnection = ConnectionType(ReadAuditEntry, 'ReadAudit');
