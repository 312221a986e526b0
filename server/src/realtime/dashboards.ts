import type { MikroORM } from '@mikro-orm/postgresql';
import type { RequestContext } from '../graphql/context';
import { uuidArray } from '../db/tenant';
import { Permission } from '../modules/identity/permissions';
import { ordersPerAgentToday } from '../modules/commerce';
import { EventType, OrderEventType } from './events';
import { LiveSubscription, type LiveDeps } from './live-subscription';

export interface AgentStatusRow {
  userId: string;
  name: string;
  availability: string;
  openThreads: number;
  waitingThreads: number;
  medianFirstResponseSeconds: number | null;
  ordersCreatedToday: number;
  ordersPaidToday: number;
}

export interface AgentDashboardSnapshot {
  workspaceId: string;
  generatedAt: string;
  agents: AgentStatusRow[];
}

const RELEVANT = new Set<string>([EventType.ASSIGNMENT_CHANGED, EventType.MESSAGE_ADDED, EventType.THREAD_UPDATED, EventType.THREAD_CREATED, EventType.AVAILABILITY_CHANGED, OrderEventType.ORDER_CREATED, OrderEventType.ORDER_UPDATED, OrderEventType.PAYMENT_UPDATED]);
const DEBOUNCE_MS = 250;

/** Agents of a workspace (AGENT role reaching it), with their load and today's median first response. */
export async function agentDashboard(orm: MikroORM, organizationId: string, workspaceId: string): Promise<AgentDashboardSnapshot> {
  const em = orm.em.fork();
  const conn = em.getConnection();
  const ws = await conn.execute<Array<{ ancestor_ids: string[] | string }>>('select ancestor_ids from workspaces where organization_id = ? and id = ?', [organizationId, workspaceId]);
  const raw = ws[0]?.ancestor_ids ?? [];
  const ancestors = Array.isArray(raw) ? raw : String(raw).replace(/[{}]/g, '').split(',').filter(Boolean);
  const rows = await conn.execute<Array<{ id: string; name: string; availability: string; open: string; waiting: string; median: number | null }>>(
    `with agents as (
       select distinct u.id, u.name, u.availability from users u
         join memberships m on m.organization_id = u.organization_id and m.user_id = u.id
        where u.organization_id = ? and u.status = 'ACTIVE' and 'AGENT' = any(m.roles)
          and (m.workspace_id is null or m.workspace_id = any(?::uuid[])))
     select a.id, a.name, a.availability,
       (select count(*) from threads t where t.organization_id = ? and t.workspace_id = ? and t.assignee_user_id = a.id and t.status = 'OPEN' and not t.archived) as open,
       (select count(*) from threads t where t.organization_id = ? and t.workspace_id = ? and t.assignee_user_id = a.id and t.status = 'OPEN' and not t.archived and t.needs_response) as waiting,
       (select percentile_cont(0.5) within group (order by extract(epoch from t.first_response_at - t.created_at))
          from threads t where t.organization_id = ? and t.workspace_id = ? and t.assignee_user_id = a.id and t.first_response_at >= date_trunc('day', now())) as median
     from agents a order by a.name, a.id`,
    [organizationId, uuidArray([workspaceId, ...ancestors]), organizationId, workspaceId, organizationId, workspaceId, organizationId, workspaceId],
  );
  const orders = await ordersPerAgentToday(em, organizationId, workspaceId);
  return {
    workspaceId,
    generatedAt: new Date().toISOString(),
    agents: rows.map((r) => ({
      userId: r.id,
      name: r.name,
      availability: r.availability,
      openThreads: Number(r.open),
      waitingThreads: Number(r.waiting),
      medianFirstResponseSeconds: r.median === null ? null : Math.round(Number(r.median)),
      ordersCreatedToday: orders.get(r.id)?.ordersCreatedToday ?? 0,
      ordersPaidToday: orders.get(r.id)?.ordersPaidToday ?? 0,
    })),
  };
}

/**
 * Live agent dashboards: a snapshot, then a new snapshot when something relevant happens in the workspace.
 * One query per workspace per debounce window per process, shared by every dashboard subscriber there.
 * Each subscriber registers (lifecycle: live-subscription.ts) before its first snapshot is read, so a change
 * committed meanwhile schedules a fresh one.
 */
export class Dashboards {
  private readonly workspaces = new Map<string, { organizationId: string; subscribers: Set<LiveSubscription<AgentDashboardSnapshot>>; timer: NodeJS.Timeout | null }>();

  constructor(private readonly orm: MikroORM) {}

  private schedule(workspaceId: string): void {
    const entry = this.workspaces.get(workspaceId);
    if (!entry || entry.timer) return;
    entry.timer = setTimeout(() => {
      entry.timer = null;
      agentDashboard(this.orm, entry.organizationId, workspaceId)
        .then((snapshot) => entry.subscribers.forEach((s) => s.push(snapshot)))
        .catch(() => undefined);
    }, DEBOUNCE_MS);
    entry.timer.unref();
  }

  async open(ctx: RequestContext, deps: LiveDeps, workspaceId: string): Promise<AsyncIterableIterator<AgentDashboardSnapshot>> {
    const organizationId = ctx.principal!.organizationId;
    const sub = new LiveSubscription<AgentDashboardSnapshot>(ctx, deps, {
      name: 'agentDashboard',
      workspaceIds: [workspaceId],
      allowed: (p) => p.access.can(Permission.AGENT_DASHBOARD_VIEW, workspaceId),
      groupsMatter: () => false,
      onEvent: (event) => {
        if (RELEVANT.has(event.type)) this.schedule(workspaceId);
      },
    });
    let entry = this.workspaces.get(workspaceId);
    if (!entry) this.workspaces.set(workspaceId, (entry = { organizationId, subscribers: new Set(), timer: null }));
    entry.subscribers.add(sub);
    const leave = () => {
      entry!.subscribers.delete(sub);
      if (entry!.subscribers.size === 0 && this.workspaces.get(workspaceId) === entry) {
        if (entry!.timer) clearTimeout(entry!.timer);
        this.workspaces.delete(workspaceId);
      }
    };
    sub.onEnd(leave);
    return sub.open(async () => {
      sub.push(await agentDashboard(this.orm, organizationId, workspaceId));
      // Every later event (even one the snapshot already shows) only schedules a fresh snapshot.
      return () => false;
    });
  }
}
