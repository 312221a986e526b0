import { Arg, Ctx, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { GraphQLError } from 'graphql';
import { Auth } from '../../../graphql/auth';
import type { RequestContext } from '../../../graphql/context';
import { loadObjectScope, registerObjectScope } from '../../../graphql/object-scope';
import type { Connection } from '../../../graphql/pagination';
import { EXPORT_PROGRESS, type LoggedEvent } from '../../../realtime';
import { ErrorCode, notFound } from '../../../shared/errors';
import { Permission, type Principal } from '../../identity';
import { ReadAction } from '../read-audit';
import { ReportGroupBy, type ConversationReport } from '../reports.service';
import { ConversationReportFilter, ConversationReportType, ReportPeriodInput } from '../reports.types';
import { paymentReport, PaymentReportGroupBy, type PaymentReport } from '../payments';
import { ExportStatus, type ExportDestinationRecord, type ExportRecord, type ExportScheduleRecord } from './exports.service';
import {
  ExportConnection,
  ExportDestinationInput,
  ExportDestinationType,
  ExportDownload,
  ExportProgress,
  ExportScheduleInput,
  ExportScheduleType,
  ExportType,
  PaymentReportFilter,
  PaymentReportType,
  StartExportInput,
} from './exports.types';
import type { ExportParams } from './sources';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Where an export lives: the @auth directive checks permissions in its workspace. */
registerObjectScope('Export', async (ctx, id) => {
  const found = await ctx.services.exports.get(ctx.em, id);
  return found ? { workspaceIds: [found.workspaceId] } : null;
});

function view(r: ExportRecord, principal: Principal): ExportType {
  const download = r.createdById === principal.userId && r.status === ExportStatus.DONE && !r.downloadedAt && !r.destinationId
    && principal.access.can(Permission.REPORTS_EXPORT, r.workspaceId);
  return { ...r, viewerCan: { download } };
}

function paramsOf(input: StartExportInput | ExportScheduleInput): ExportParams {
  const i = input as StartExportInput;
  return {
    period: i.period ? { from: i.period.from, to: i.period.to } : null,
    groupBy: i.groupBy ?? i.paymentGroupBy ?? null,
    conversationFilter: i.conversationFilter ? { ...i.conversationFilter } : null,
    paymentFilter: i.paymentFilter ? { statuses: i.paymentFilter.statuses ?? null, currencies: i.paymentFilter.currencies ?? null } : null,
    since: i.since ? i.since.toISOString() : null,
    until: i.until ? i.until.toISOString() : null,
  };
}

/**
 * Exports, the payment report, the organization-wide conversation report, and export destinations and
 * schedules. Abstract: ReportsResolver extends it, so the schema registers one reports resolver.
 */
@Resolver()
export abstract class ExportsResolver {
  @Query(() => PaymentReportType, { description: 'Orders (by local day created) and their payments over a period, per currency, in minor units.' })
  @Auth(Permission.REPORTS_PAYMENTS, { scope: { arg: 'workspaceId' } })
  async paymentReport(
    @Arg('workspaceId', () => ID) workspaceId: string,
    @Arg('period', () => ReportPeriodInput) period: ReportPeriodInput,
    @Arg('groupBy', () => PaymentReportGroupBy) groupBy: PaymentReportGroupBy,
    @Arg('filter', () => PaymentReportFilter, { nullable: true }) filter: PaymentReportFilter | null,
    @Ctx() ctx: RequestContext,
  ): Promise<PaymentReport> {
    const workspaceIds = await ctx.services.reports.scope(ctx.em, workspaceId, filter?.subtree ?? false);
    const report = await paymentReport(ctx.em, ctx.principal!.organizationId, workspaceIds, { from: period.from, to: period.to }, groupBy, filter ?? {});
    ctx.services.readAudit.record(ctx.principal, ReadAction.PAYMENT_REPORT, 'Workspace', workspaceId, workspaceId);
    return report;
  }

  @Query(() => ConversationReportType, { description: 'The conversation report over every workspace of the organization.' })
  @Auth(Permission.ORGANIZATION_ANALYTICS_VIEW, { scope: 'organization' })
  async organizationConversationReport(
    @Arg('period', () => ReportPeriodInput) period: ReportPeriodInput,
    @Arg('groupBy', () => ReportGroupBy) groupBy: ReportGroupBy,
    @Arg('filter', () => ConversationReportFilter, { nullable: true }) filter: ConversationReportFilter | null,
    @Ctx() ctx: RequestContext,
  ): Promise<ConversationReport> {
    const organizationId = ctx.principal!.organizationId;
    const report = await ctx.services.reports.organizationConversationReport(ctx.em, organizationId, { from: period.from, to: period.to }, groupBy, filter ?? {});
    ctx.services.readAudit.record(ctx.principal, ReadAction.ORGANIZATION_REPORT, 'Organization', organizationId, null);
    return report;
  }

  @Query(() => ExportConnection, { description: 'Exports of a workspace, newest first.' })
  @Auth(Permission.REPORTS_VIEW, { scope: { arg: 'workspaceId' } })
  async exports(
    @Arg('workspaceId', () => ID) workspaceId: string,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Connection<ExportType>> {
    const page = await ctx.services.exports.list(ctx.em, ctx.principal!.organizationId, workspaceId, first, after);
    return { ...page, edges: page.edges.map((e) => ({ cursor: e.cursor, node: view(e.node, ctx.principal!) })) };
  }

  @Query(() => ExportType)
  @Auth(Permission.REPORTS_VIEW, { scope: { object: 'Export', arg: 'id' } })
  async export(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<ExportType> {
    const found = await ctx.services.exports.get(ctx.em, id);
    if (!found) throw notFound('Export');
    return view(found, ctx.principal!);
  }

  @Mutation(() => ExportType, { description: 'Starts an export job; follow it with exportProgress, then ask for createExportDownloadUrl.' })
  @Auth(Permission.REPORTS_EXPORT, { scope: { arg: 'input.workspaceId' } })
  async startExport(@Arg('input', () => StartExportInput) input: StartExportInput, @Ctx() ctx: RequestContext): Promise<ExportType> {
    const record = await ctx.services.exports.startExport(ctx.em, ctx.principal!, { workspaceId: input.workspaceId, kind: input.kind, format: input.format, params: paramsOf(input) });
    return view(record, ctx.principal!);
  }

  @Mutation(() => ExportDownload, { description: 'A one-time, expiring download URL for a finished export (for the person who started it).' })
  @Auth(Permission.REPORTS_EXPORT, { scope: { object: 'Export', arg: 'exportId' } })
  createExportDownloadUrl(@Arg('exportId', () => ID) exportId: string, @Ctx() ctx: RequestContext): Promise<ExportDownload> {
    return ctx.services.exports.createDownloadUrl(ctx.em, ctx.principal!, exportId);
  }

  @Subscription(() => ExportProgress, {
    description: "An export's status and row count as its job writes it, to DONE or FAILED.",
    subscribe: async ({ args, context }) => {
      const ctx = context as RequestContext;
      const found = await loadObjectScope('Export', ctx, args.exportId);
      if (!found) throw new GraphQLError('Export not found', { extensions: { code: ErrorCode.NOT_FOUND } });
      if (!ctx.live) throw new GraphQLError('Subscriptions are not available here', { extensions: { code: ErrorCode.UNAVAILABLE } });
      const workspaceId = found.workspaceIds[0]!;
      return ctx.live.stream(ctx, {
        name: 'exportProgress',
        workspaceIds: [workspaceId],
        after: args.after,
        allowed: (p) => p.access.can(Permission.REPORTS_EXPORT, workspaceId),
        groupsMatter: () => false,
        accept: (e) => e.type === EXPORT_PROGRESS && e.payload.export?.exportId === args.exportId,
      });
    },
  })
  @Auth(Permission.REPORTS_EXPORT, { scope: { object: 'Export', arg: 'exportId' } })
  exportProgress(
    @Root() event: LoggedEvent,
    @Arg('exportId', () => ID) _exportId: string,
    @Arg('after', () => String, { nullable: true }) _after: string | null,
  ): ExportProgress {
    const e = event.payload.export!;
    return { ...e, status: e.status as ExportStatus, workspaceId: event.workspaceId, cursor: event.cursor };
  }

  @Query(() => [ExportDestinationType], { description: 'Buckets scheduled exports go to (secrets never returned).' })
  @Auth(Permission.EXPORTS_CONFIGURE, { scope: 'organization' })
  exportDestinations(@Ctx() ctx: RequestContext): Promise<ExportDestinationRecord[]> {
    return ctx.services.exports.destinations(ctx.em, ctx.principal!.organizationId);
  }

  @Mutation(() => ExportDestinationType)
  @Auth(Permission.EXPORTS_CONFIGURE, { scope: 'organization' })
  createExportDestination(@Arg('input', () => ExportDestinationInput) input: ExportDestinationInput, @Ctx() ctx: RequestContext): Promise<ExportDestinationRecord> {
    return ctx.services.exports.createDestination(ctx.em, ctx.principal!, input);
  }

  @Mutation(() => Boolean)
  @Auth(Permission.EXPORTS_CONFIGURE, { scope: 'organization' })
  deleteExportDestination(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    if (!UUID.test(id)) throw notFound('Export destination');
    return ctx.services.exports.deleteDestination(ctx.em, ctx.principal!, id);
  }

  @Query(() => [ExportScheduleType])
  @Auth(Permission.EXPORTS_CONFIGURE, { scope: 'organization' })
  exportSchedules(@Ctx() ctx: RequestContext): Promise<ExportScheduleRecord[]> {
    return ctx.services.exports.schedules(ctx.em, ctx.principal!.organizationId);
  }

  @Mutation(() => ExportScheduleType, { description: 'An export run every `everyHours`, uploaded to a destination bucket.' })
  @Auth(Permission.EXPORTS_CONFIGURE, { scope: 'organization' })
  createExportSchedule(@Arg('input', () => ExportScheduleInput) input: ExportScheduleInput, @Ctx() ctx: RequestContext): Promise<ExportScheduleRecord> {
    if (!UUID.test(input.destinationId)) throw notFound('Export destination');
    if (!UUID.test(input.workspaceId)) throw notFound('Workspace');
    return ctx.services.exports.createSchedule(ctx.em, ctx.principal!, {
      workspaceId: input.workspaceId, destinationId: input.destinationId, kind: input.kind, format: input.format,
      params: { groupBy: input.groupBy ?? input.paymentGroupBy ?? null }, everyHours: input.everyHours, periodDays: input.periodDays ?? null, firstRunAt: input.firstRunAt ?? null,
    });
  }

  @Mutation(() => Boolean)
  @Auth(Permission.EXPORTS_CONFIGURE, { scope: 'organization' })
  deleteExportSchedule(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    if (!UUID.test(id)) throw notFound('Export schedule');
    return ctx.services.exports.deleteSchedule(ctx.em, ctx.principal!, id);
  }
}
