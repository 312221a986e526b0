import { createHmac, timingSafeEqual } from 'node:crypto';
import express, { Router, type Request, type Response } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import { TENANT_FILTER } from '../../db/tenant';
import { sqlQuery } from '../../db/sql-transaction';
import { DomainError } from '../../shared/errors';
import { isUuid } from '../../graphql/object-scope';
import type { Logger } from '../../observability/logger';
import type { Services } from '../../services';

export const SIGNATURE_HEADER = 'x-switchboard-signature';
export const WORKSPACE_HEADER = 'x-switchboard-workspace';

export function sign(secret: string, rawBody: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

function reply(res: Response, status: number, code: string, message: string) {
  res.status(status).json({ error: { code, message } });
}

/**
 * POST /webhooks/inbound: a channel pushes an inbound message, signed with the workspace's secret
 * (HMAC-SHA256 over the raw body). A bad signature stores nothing; a replayed deliveryId is stored once.
 * Body: { "deliveryId": "...", "from": "+1555...", "body": "..." }, header X-Switchboard-Workspace: <id>.
 */
export function inboundWebhookRouter(deps: { orm: MikroORM; services: Services; logger: Logger }): Router {
  const router = Router();
  router.post('/webhooks/inbound', express.raw({ type: '*/*', limit: '256kb' }), async (req: Request, res: Response) => {
    const workspaceId = req.headers[WORKSPACE_HEADER];
    const signature = req.headers[SIGNATURE_HEADER];
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (typeof workspaceId !== 'string' || !isUuid(workspaceId) || typeof signature !== 'string') {
      return reply(res, 401, 'UNAUTHENTICATED', 'Missing or malformed signature or workspace header');
    }
    const em = deps.orm.em.fork({ clear: true, useContext: false });
    // Cross-tenant by necessity: the workspace header is what tells us the tenant; the signature proves it.
    // A plain read (no entity): the secret and the tenant are all the check needs.
    const [settings] = await sqlQuery<{ organization_id: string; webhook_secret: string | null }>(em, 'select organization_id, webhook_secret from workspace_settings where workspace_id = ?', [workspaceId]);
    const expected = settings?.webhook_secret ? sign(settings.webhook_secret, raw) : null;
    if (!expected || expected.length !== signature.length || !timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) {
      return reply(res, 401, 'UNAUTHENTICATED', 'Bad signature');
    }
    let payload: { deliveryId?: unknown; from?: unknown; body?: unknown; channel?: unknown };
    try {
      payload = JSON.parse(raw.toString('utf8'));
    } catch {
      return reply(res, 400, 'BAD_USER_INPUT', 'The body is not JSON');
    }
    if (typeof payload.deliveryId !== 'string' || typeof payload.from !== 'string' || typeof payload.body !== 'string') {
      return reply(res, 400, 'BAD_USER_INPUT', 'Expected { deliveryId, from, body } strings');
    }
    if (payload.channel !== undefined && payload.channel !== null && typeof payload.channel !== 'string') {
      return reply(res, 400, 'BAD_USER_INPUT', 'channel, when given, is a string');
    }
    const organizationId = settings!.organization_id;
    em.setFilterParams(TENANT_FILTER, { organizationId });
    try {
      const message = await deps.services.messaging.ingest(em, { organizationId, principal: null }, {
        workspaceId,
        from: payload.from,
        body: payload.body,
        externalId: payload.deliveryId,
        channel: (payload.channel as string | null | undefined) ?? null,
      });
      res.status(200).json({ messageId: message.id, threadId: message.threadId });
    } catch (err) {
      if (err instanceof DomainError) return reply(res, 400, err.code, err.message);
      deps.logger.error({ err }, 'inbound webhook failed');
      return reply(res, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
    }
  });
  return router;
}
