import { Router, type Request, type Response } from 'express';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { httpErrorBody } from '../../../graphql/errors';
import type { Logger } from '../../../observability/logger';
import { ErrorCode } from '../../../shared/errors';
import type { ExportService } from './exports.service';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

function refuse(res: Response, status: number, message: string, reason: string): void {
  const body = httpErrorBody(ErrorCode.NOT_FOUND, message);
  res.status(status).setHeader('cache-control', 'no-store').json({ errors: body.errors.map((e) => ({ ...e, extensions: { ...e.extensions, reason } })) });
}

/**
 * GET /exports/:organizationId/:exportId/:token — the one-time download. The token is the credential (no
 * bearer header: a browser follows the link); the first request claims it atomically and gets the file, which
 * is then deleted. A used link is 410 (reason USED), an expired one 410 (EXPIRED), anything else 404.
 */
export function exportDownloadRouter(deps: { exports: ExportService; logger: Logger }): Router {
  const router = Router();
  router.get('/exports/:organizationId/:exportId/:token', async (req: Request, res: Response) => {
    const { organizationId, exportId, token } = req.params as Record<string, string>;
    if (!UUID.test(organizationId!) || !UUID.test(exportId!) || !TOKEN.test(token!)) return refuse(res, 404, 'No such download', 'NOT_FOUND');
    try {
      const claim = await deps.exports.claimDownload(organizationId!, exportId!, token!);
      if (claim === 'NOT_FOUND') return refuse(res, 404, 'No such download', 'NOT_FOUND');
      if (claim === 'USED') return refuse(res, 410, 'This download link was used already; ask for a new export', 'USED');
      if (claim === 'EXPIRED') return refuse(res, 410, 'This download link has expired; ask for a new one', 'EXPIRED');
      res.status(200);
      res.setHeader('content-type', claim.contentType);
      res.setHeader('content-disposition', `attachment; filename="${claim.fileName}"`);
      res.setHeader('cache-control', 'no-store');
      try {
        await pipeline(createReadStream(claim.file), res);
      } finally {
        await deps.exports.removeFile(claim.file);
      }
    } catch (err) {
      deps.logger.warn({ err, exportId }, 'export download failed');
      if (!res.headersSent) res.status(500).json(httpErrorBody(ErrorCode.INTERNAL, 'Internal server error'));
      else res.destroy();
    }
  });
  return router;
}
