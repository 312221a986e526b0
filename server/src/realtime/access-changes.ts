import type { EntityManager } from '@mikro-orm/postgresql';
import { appendEvent } from './event-log';
import { ACCESS_CHANGED, type AccessChange } from './events';

/** Changes already recorded per transaction: a mutation that touches access twice (deactivate = sessions + user) logs it once. */
const recorded = new WeakMap<object, Set<string>>();

/**
 * The one way to say "what this user, session or API key may do changed": an ACCESS_CHANGED row on the event
 * log, in the caller's transaction (so it commits with the change or not at all). Every server process's hub
 * reads it in log order after commit (woken over the bus, or by its poll when a wake-up is lost) and hands it
 * to that process's socket registry, which re-resolves each affected socket's credential once.
 *
 * The row's workspace column holds the organization id: no workspace subscriber or resume read ever matches
 * it, and the organization's wake-up channel carries it.
 */
export async function recordAccessChange(em: EntityManager, organizationId: string, change: AccessChange): Promise<void> {
  const trx = em.getTransactionContext();
  if (!trx) throw new Error('recordAccessChange must run inside the mutation\'s transaction');
  const key = `${organizationId}|${change.userId ?? ''}|${change.sessionId ?? ''}|${change.apiKeyId ?? ''}`;
  let keys = recorded.get(trx);
  if (!keys) recorded.set(trx, (keys = new Set()));
  if (keys.has(key)) return;
  keys.add(key);
  await appendEvent(em, {
    organizationId,
    workspaceId: organizationId,
    type: ACCESS_CHANGED,
    payload: { access: compact(change) },
  });
}

function compact(change: AccessChange): AccessChange {
  const out: AccessChange = { kind: change.kind };
  if (change.userId) out.userId = change.userId;
  if (change.sessionId) out.sessionId = change.sessionId;
  if (change.apiKeyId) out.apiKeyId = change.apiKeyId;
  return out;
}
