import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Auth, Public } from '../../../graphql/auth';
import { ConnectionType } from '../../../graphql/pagination';
import { Permission } from '../../identity';
import { ReportGroupBy } from '../reports.service';
import { PaymentReportGroupBy } from '../payments';
import { ConversationReportFilter, ReportPeriodInput, ReportPeriodType } from '../reports.types';
import { ExportFormat } from './format';
import { ExportKind } from './sources';
import { ExportStatus } from './exports.service';

registerEnumType(ExportKind, {
  name: 'ExportKind',
  description: 'What an export holds. Besides REPORTS_EXPORT, each takes what reading it does: CONVERSATION_REPORT REPORTS_CONVERSATIONS, PAYMENT_REPORT REPORTS_PAYMENTS, USAGE USAGE_VIEW, THREADS (one row per message) THREADS_READ_ALL and MESSAGES_READ_BODY, CONTACTS CONTACTS_READ, OPT_OUTS OPT_OUTS_READ, AUDIT_LOG AUDIT_LOG_READ.',
});
registerEnumType(ExportFormat, { name: 'ExportFormat', description: 'CSV (RFC 4180; text cells that would run as a spreadsheet formula get a leading apostrophe) or JSON Lines.' });
registerEnumType(ExportStatus, { name: 'ExportStatus', description: 'QUEUED -> RUNNING -> DONE or FAILED; DONE -> EXPIRED when not downloaded within EXPORT_RETENTION_HOURS (the file is deleted).' });
registerEnumType(PaymentReportGroupBy, { name: 'PaymentReportGroupBy', description: 'What a payment report has one row per (always also per currency).' });

const GUARDED = 'a report result: the query that returns it carries the @auth';

@ObjectType({ description: 'What the viewer may do with an export.' })
@Public('read through Export.viewerCan, which carries its own @auth')
export class ExportViewerCan {
  @Field({ description: 'Ask for a one-time download URL (the person who started it, once it is DONE, not downloaded yet, not sent to a bucket).' })
  download!: boolean;
}

@ObjectType('Export', { description: 'One export run: a report or list written as CSV or JSON Lines by a background job.' })
@Auth(Permission.REPORTS_VIEW)
export class ExportType {
  @Field(() => ID) id!: string;
  @Field(() => ID) workspaceId!: string;
  @Field(() => ID) createdById!: string;
  @Field(() => ExportKind) kind!: ExportKind;
  @Field(() => ExportFormat) format!: ExportFormat;
  @Field(() => ExportStatus) status!: ExportStatus;
  @Field(() => Float) rowsWritten!: number;
  @Field(() => Float) bytesWritten!: number;
  @Field(() => String, { nullable: true }) error!: string | null;
  @Field(() => ID, { nullable: true, description: 'A scheduled export goes to this bucket instead of a download.' }) destinationId!: string | null;
  @Field(() => ID, { nullable: true }) scheduleId!: string | null;
  @Field(() => String, { nullable: true, description: 'Where it was uploaded in the destination bucket.' }) objectKey!: string | null;
  @Field(() => Date, { nullable: true }) downloadExpiresAt!: Date | null;
  @Field(() => Date, { nullable: true, description: 'When its one download happened (the file is deleted then).' }) downloadedAt!: Date | null;
  @Field(() => Date) createdAt!: Date;
  @Field(() => Date, { nullable: true }) startedAt!: Date | null;
  @Field(() => Date, { nullable: true }) finishedAt!: Date | null;
  @Field(() => ExportViewerCan) viewerCan!: ExportViewerCan;
}

export const ExportConnection = ConnectionType(ExportType, 'Export');

@ObjectType({ description: "An export's status and row count, after each page written (at most twice a second) and at the end." })
@Public('streamed by exportProgress, which carries the @auth')
export class ExportProgress {
  @Field(() => ID) exportId!: string;
  @Field(() => ID) workspaceId!: string;
  @Field(() => ExportStatus) status!: ExportStatus;
  @Field(() => Float) rowsWritten!: number;
  @Field(() => Float) bytesWritten!: number;
  @Field(() => String, { nullable: true }) error!: string | null;
  @Field({ description: 'Resume position (pass as `after`).' }) cursor!: string;
}

@ObjectType({ description: 'A one-time download link: the first GET serves the file, later ones and expired ones get 410.' })
@Public('returned by createExportDownloadUrl, which carries the @auth')
export class ExportDownload {
  @Field({ description: 'Absolute, from PUBLIC_URL.' }) url!: string;
  @Field({ description: 'The same, relative to the server.' }) path!: string;
  @Field(() => Date) expiresAt!: Date;
}

@InputType()
export class PaymentReportFilter {
  @Field(() => Boolean, { nullable: true, description: 'Include the workspaces below this one.' })
  subtree?: boolean | null;

  @Field(() => [String], { nullable: true, description: 'Order statuses (OrderStatus values); default: all but DRAFT.' })
  statuses?: string[] | null;

  @Field(() => [String], { nullable: true, description: 'ISO 4217 codes.' })
  currencies?: string[] | null;
}

@InputType()
export class StartExportInput {
  @Field(() => ID) workspaceId!: string;
  @Field(() => ExportKind) kind!: ExportKind;
  @Field(() => ExportFormat) format!: ExportFormat;
  @Field(() => ReportPeriodInput, { nullable: true, description: 'Reports (conversation, payment, usage): the days covered.' })
  period?: ReportPeriodInput | null;

  @Field(() => ReportGroupBy, { nullable: true, description: 'CONVERSATION_REPORT: rows per.' })
  groupBy?: ReportGroupBy | null;

  @Field(() => PaymentReportGroupBy, { nullable: true, description: 'PAYMENT_REPORT: rows per (default CURRENCY).' })
  paymentGroupBy?: PaymentReportGroupBy | null;

  @Field(() => ConversationReportFilter, { nullable: true })
  conversationFilter?: ConversationReportFilter | null;

  @Field(() => PaymentReportFilter, { nullable: true })
  paymentFilter?: PaymentReportFilter | null;

  @Field(() => Date, { nullable: true, description: 'Lists: rows created at or after.' })
  since?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Lists: rows created before.' })
  until?: Date | null;
}

@ObjectType('ExportDestination', { description: 'An S3-compatible bucket scheduled exports are uploaded to. The secret key is stored encrypted and never returned.' })
@Auth(Permission.EXPORTS_CONFIGURE, { scope: 'organization' })
export class ExportDestinationType {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field(() => String, { nullable: true }) endpoint!: string | null;
  @Field() region!: string;
  @Field() bucket!: string;
  @Field() prefix!: string;
  @Field() forcePathStyle!: boolean;
  @Field({ description: 'The access key id (not secret by itself).' }) accessKeyId!: string;
  @Field(() => Date) createdAt!: Date;
}

@InputType()
export class ExportDestinationInput {
  @Field() name!: string;
  @Field(() => String, { nullable: true, description: 'For S3-compatible stores (MinIO, R2...): their URL.' }) endpoint?: string | null;
  @Field() region!: string;
  @Field() bucket!: string;
  @Field(() => String, { nullable: true, description: 'Prepended to every object key.' }) prefix?: string | null;
  @Field(() => Boolean, { nullable: true }) forcePathStyle?: boolean | null;
  @Field() accessKeyId!: string;
  @Field({ description: 'Write-only: stored encrypted (AES-256-GCM), never returned.' }) secretAccessKey!: string;
}

@ObjectType('ExportSchedule', { description: 'An export run every `everyHours` into a destination bucket.' })
@Auth(Permission.EXPORTS_CONFIGURE, { scope: 'organization' })
export class ExportScheduleType {
  @Field(() => ID) id!: string;
  @Field(() => ID) workspaceId!: string;
  @Field(() => ID) destinationId!: string;
  @Field(() => ExportKind) kind!: ExportKind;
  @Field(() => ExportFormat) format!: ExportFormat;
  @Field(() => Int) everyHours!: number;
  @Field(() => Int, { nullable: true }) periodDays!: number | null;
  @Field(() => Date) nextRunAt!: Date;
  @Field(() => ID, { nullable: true }) lastExportId!: string | null;
  @Field(() => Date) createdAt!: Date;
}

@InputType()
export class ExportScheduleInput {
  @Field(() => ID) workspaceId!: string;
  @Field(() => ID) destinationId!: string;
  @Field(() => ExportKind) kind!: ExportKind;
  @Field(() => ExportFormat) format!: ExportFormat;
  @Field(() => Int) everyHours!: number;
  @Field(() => Int, { nullable: true, description: 'Reports: each run covers this many days before it.' }) periodDays?: number | null;
  @Field(() => ReportGroupBy, { nullable: true }) groupBy?: ReportGroupBy | null;
  @Field(() => PaymentReportGroupBy, { nullable: true }) paymentGroupBy?: PaymentReportGroupBy | null;
  @Field(() => Date, { nullable: true, description: 'Default: now.' }) firstRunAt?: Date | null;
}

@ObjectType()
@Public(GUARDED)
export class PaymentReportRowType {
  @Field({ description: 'The day (YYYY-MM-DD), agent (order creator) id, order status or workspace id; the currency for CURRENCY.' }) key!: string;
  @Field() currency!: string;
  @Field(() => Int) orders!: number;
  @Field(() => Float, { description: 'Minor units.' }) orderedAmount!: number;
  @Field(() => Float, { description: 'Minor units reconciled against these orders.' }) paidAmount!: number;
  @Field(() => Float, { description: 'Ordered minus paid, orders not cancelled.' }) outstandingAmount!: number;
  @Field(() => Int) payments!: number;
  @Field(() => Float) pendingPaymentAmount!: number;
  @Field(() => Float) reconciledPaymentAmount!: number;
  @Field(() => Float) rejectedPaymentAmount!: number;
}

@ObjectType()
@Public(GUARDED)
export class PaymentReportType {
  @Field(() => [ID]) workspaceIds!: string[];
  @Field(() => ReportPeriodType) period!: ReportPeriodType;
  @Field(() => PaymentReportGroupBy) groupBy!: PaymentReportGroupBy;
  @Field(() => [PaymentReportRowType]) rows!: PaymentReportRowType[];
  @Field(() => [PaymentReportRowType], { description: 'One row per currency (keyed by it): amounts in different currencies are never added.' }) totals!: PaymentReportRowType[];
}
