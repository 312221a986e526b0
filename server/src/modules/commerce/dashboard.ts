import type { EntityManager } from '@mikro-orm/postgresql';

export interface AgentOrdersToday {
  ordersCreatedToday: number;
  ordersPaidToday: number;
}

/**
 * Orders each user of a workspace created today and orders of theirs paid today (UTC day, deleted orders left
 * out), for the agent dashboard: one query per workspace.
 */
export async function ordersPerAgentToday(em: EntityManager, organizationId: string, workspaceId: string): Promise<Map<string, AgentOrdersToday>> {
  const rows = await em.getConnection().execute<Array<{ created_by_id: string; created: string; paid: string }>>(
    `select created_by_id,
            count(*) filter (where created_at >= date_trunc('day', now())) as created,
            count(*) filter (where paid_at >= date_trunc('day', now())) as paid
       from orders
      where organization_id = ? and workspace_id = ? and deleted_at is null
        and (created_at >= date_trunc('day', now()) or paid_at >= date_trunc('day', now()))
      group by created_by_id`,
    [organizationId, workspaceId],
  );
  return new Map(rows.map((r) => [r.created_by_id, { ordersCreatedToday: Number(r.created), ordersPaidToday: Number(r.paid) }]));
}
