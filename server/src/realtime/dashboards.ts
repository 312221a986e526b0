import type { MikroORM } from '@mikro-orm/postgresql';
import type { RequestContext } from '../graphql/context';
import { Permission } from '../modules/identity';
import { agentWorkload, type AgentWorkloadRow } from '../modules/inbox';
import { ordersPerAgentToday } from '../modules/commerce';
import { EventType, OrderEventType } from './events';
import { LiveSubscription, type LiveDeps } from './live-subscription';

export interface AgentStatusRow extends AgentWorkloadRow {
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
  const workload = await agentWorkload(em, organizationId, workspaceId);
  const orders = await ordersPerAgentToday(em, organizationId, workspaceId);
  const agents = workload.map((a) => ({
    ...a,
    ordersCreatedToday: orders.get(a.userId)?.ordersCreatedToday ?? 0,
    ordersPaidToday: orders.get(a.userId)?.ordersPaidToday ?? 0,
  }));
  return { workspaceId, generatedAt: new Date().toISOString(), agents };
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
