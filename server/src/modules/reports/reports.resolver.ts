import { Arg, Ctx, ID, Int, Query, Resolver } from 'type-graphql';
import { ExportsResolver } from './exports/exports.resolver';
import { Auth } from '../../graphql/auth';
import type { RequestContext } from '../../graphql/context';
import type { Connection } from '../../graphql/pagination';
import { Permission } from '../identity';
import { listReadAudit, ReadAction } from './read-audit';
import type { ReadAuditEntry } from './read-audit.entity';
import { ReportGroupBy, type ConversationReport, type OrganizationUsage, type WorkspaceUsage } from './reports.service';
import {
  ConversationReportFilter,
  ConversationReportType,
  OrganizationUsageType,
  ReadAuditConnection,
  ReportPeriodInput,
  WorkspaceUsageType,
} from './reports.types';

/** Reports and the audit of reads. Thin: arguments in, one service call (and the read recorded), result out. */
@Resolver()
export class ReportsResolver extends ExportsResolver {
  @Query(() => ConversationReportType, { description: 'Conversations over a period (workspace time zone), one row per agent, group, tag, campaign, day or hour.' })
  @Auth(Permission.REPORTS_CONVERSATIONS, { scope: { arg: 'workspaceId' } })
  async conversationReport(
    @Arg('workspaceId', () => ID) workspaceId: string,
    @Arg('period', () => ReportPeriodInput) period: ReportPeriodInput,
    @Arg('groupBy', () => ReportGroupBy) groupBy: ReportGroupBy,
    @Arg('filter', () => ConversationReportFilter, { nullable: true }) filter: ConversationReportFilter | null,
    @Ctx() ctx: RequestContext,
  ): Promise<ConversationReport> {
    const report = await ctx.services.reports.conversationReport(ctx.em, ctx.principal!.organizationId, workspaceId, { from: period.from, to: period.to }, groupBy, filter ?? {});
    ctx.services.readAudit.record(ctx.principal, ReadAction.CONVERSATION_REPORT, 'Workspace', workspaceId, workspaceId);
    return report;
  }

  @Query(() => WorkspaceUsageType, { description: "A workspace's usage per day of a period (workspace time zone)." })
  @Auth(Permission.USAGE_VIEW, { scope: { arg: 'workspaceId' } })
  async usage(
    @Arg('workspaceId', () => ID) workspaceId: string,
    @Arg('period', () => ReportPeriodInput) period: ReportPeriodInput,
    @Ctx() ctx: RequestContext,
  ): Promise<WorkspaceUsage> {
    const usage = await ctx.services.reports.usage(ctx.em, ctx.principal!.organizationId, workspaceId, { from: period.from, to: period.to });
    ctx.services.readAudit.record(ctx.principal, ReadAction.USAGE, 'Workspace', workspaceId, workspaceId);
    return usage;
  }

  @Query(() => OrganizationUsageType, { description: 'Usage of every workspace over a period, and the total.' })
  @Auth(Permission.ORGANIZATION_USAGE_VIEW, { scope: 'organization' })
  async organizationUsage(@Arg('period', () => ReportPeriodInput) period: ReportPeriodInput, @Ctx() ctx: RequestContext): Promise<OrganizationUsage> {
    const usage = await ctx.services.reports.organizationUsage(ctx.em, ctx.principal!.organizationId, { from: period.from, to: period.to });
    ctx.services.readAudit.record(ctx.principal, ReadAction.ORGANIZATION_USAGE, 'Organization', ctx.principal!.organizationId, null);
    return usage;
  }

  @Query(() => ReadAuditConnection, { description: 'Who read what (threads, contacts, reports), newest first: a workspace (and below), or the organization.' })
  @Auth(Permission.AUDIT_LOG_READ, { scope: { arg: 'workspaceId' } })
  async readAudit(
    @Arg('workspaceId', () => ID, { nullable: true }) workspaceId: string | null,
    @Arg('actorUserId', () => ID, { nullable: true }) actorUserId: string | null,
    @Arg('targetId', () => ID, { nullable: true }) targetId: string | null,
    @Arg('action', () => String, { nullable: true }) action: string | null,
    @Arg('since', () => Date, { nullable: true }) since: Date | null,
    @Arg('until', () => Date, { nullable: true }) until: Date | null,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<Connection<ReadAuditEntry>> {
    // This process's own buffered reads are written first: an auditor sees a read made a moment ago here.
    await ctx.services.readAudit.flush();
    return listReadAudit(ctx.em, { workspaceId, actorUserId, targetId, action, since, until, first, after });
  }
}
