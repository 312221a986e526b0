import { GraphQLError } from 'graphql';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { RequestContext } from '../graphql/context';
import { ErrorCode } from '../graphql/errors';
import { uuidArray } from '../db/tenant';
import { Permission } from '../modules/identity/permissions';
import { EventType } from './events';
import type { Hub, LiveSubscriber } from './hub';
import type { LiveDeps } from './live';
import { PushQueue } from './queue';

export interface AgentStatusRow {
  userId: string;
  name: string;
  availability: string;
  openThreads: number;
  waitingThreads: number;
  medianFirstResponseSeconds: number | null;
}

export interface AgentDashboardSnapshot {
  workspaceId: string;
  generatedAt: string;
  agents: AgentStatusRow[];
}

const RELEVANT = new Set([EventType.ASSIGNMENT_CHANGED, EventType.MESSAGE_ADDED, EventType.THREAD_UPDATED, EventType.THREAD_CREATED, EventType.AVAILABILITY_CHANGED]);
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
    })),
  };
}

/**
 * Live agent dashboards: a snapshot, then a new snapshot when something relevant happens in the workspace.
 * One query per workspace per debounce window per process, shared by every dashboard subscriber there.
 */
export class Dashboards {
  private readonly workspaces = new Map<string, { organizationId: string; queues: Set<PushQueue<AgentDashboardSnapshot>>; timer: NodeJS.Timeout | null }>();

  constructor(private readonly orm: MikroORM, private readonly hub: Hub) {}

  private schedule(workspaceId: string): void {
    const entry = this.workspaces.get(workspaceId);
    if (!entry || entry.timer) return;
    entry.timer = setTimeout(() => {
      entry.timer = null;
      agentDashboard(this.orm, entry.organizationId, workspaceId)
        .then((snapshot) => entry.queues.forEach((q) => q.push(snapshot)))
        .catch(() => undefined);
    }, DEBOUNCE_MS);
    entry.timer.unref();
  }

  async open(ctx: RequestContext, deps: LiveDeps, workspaceId: string): Promise<AsyncIterableIterator<AgentDashboardSnapshot>> {
    const principal = ctx.principal!;
    let entry = this.workspaces.get(workspaceId);
    if (!entry) this.workspaces.set(workspaceId, (entry = { organizationId: principal.organizationId, queues: new Set(), timer: null }));
    const queue = new PushQueue<AgentDashboardSnapshot>(() => {
      this.hub.unregister(sub);
      entry!.queues.delete(queue);
      deps.metrics?.activeSubscriptions.dec();
      if (entry!.queues.size === 0) {
        if (entry!.timer) clearTimeout(entry!.timer);
        this.workspaces.delete(workspaceId);
      }
    });
    const sub: LiveSubscriber = {
      organizationId: principal.organizationId,
      userId: principal.userId,
      workspaceIds: new Set([workspaceId]),
      deliver: (event) => {
        if (RELEVANT.has(event.type)) this.schedule(workspaceId);
      },
      accessChanged: () => {
        const fork = deps.orm.em.fork({ clear: true, useContext: false });
        void (async () => {
          const fresh = ctx.credential ? await deps.services.authentication.authenticate(fork, ctx.credential) : null;
          if (!fresh || !fresh.access.can(Permission.AGENT_DASHBOARD_VIEW, workspaceId)) {
            queue.fail(new GraphQLError('Your access changed: this subscription has ended', { extensions: { code: ErrorCode.FORBIDDEN } }));
          } else {
            ctx.principal = fresh;
          }
        })().catch(() => undefined);
      },
    };
    entry.queues.add(queue);
    this.hub.register(sub);
    deps.metrics?.activeSubscriptions.inc();
    queue.push(await agentDashboard(this.orm, principal.organizationId, workspaceId));
    return queue;
  }
}
