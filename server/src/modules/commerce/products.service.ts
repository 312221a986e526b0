import type { EntityManager } from '@mikro-orm/postgresql';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { parse } from 'csv-parse/sync';
import { badInput, DomainError, ErrorCode, notFound } from '../../shared/errors';
import { decodeCursor, pageSize, toConnection, type Connection } from '../../graphql/pagination';
import type { Principal } from '../identity';
import { actorOf, audit } from '../identity';
import { Organization, Workspace } from '../identity';
import type { MessagingService } from '../inbox';
import type { ImportReport } from '../inbox';
import { Thread } from '../inbox';
import { CatalogSend, CommerceSettings, Product } from './commerce.entity';
import { currencyCode, formatMoney, httpUrl, minorDigits, minorUnits } from './money';
import { text } from './keys';

export interface ProductInput {
  sku?: string | null;
  name?: string | null;
  description?: string | null;
  priceAmount?: number | null;
  currency?: string | null;
  active?: boolean | null;
  imageUrl?: string | null;
}

const MAX_IMPORT_ROWS = 5_000;
/** A catalogue message lists at most this many products (a message has at most 1600 characters). */
export const MAX_CATALOG_PRODUCTS = 10;
export const DEFAULT_CURRENCY = 'USD';

/** "12.5" or "12.50" in major units -> 1250 minor units, by string arithmetic (no floating point). */
export function parseMajorUnits(value: string, currency: string): number {
  const digits = minorDigits(currency);
  const m = /^(\d{1,13})(?:\.(\d+))?$/.exec(value.trim());
  if (!m || (m[2] ?? '').length > digits) throw badInput(`price "${value}" is not an amount in ${currency} (at most ${digits} decimals)`, { field: 'price' });
  return Number(BigInt(m[1]! + (m[2] ?? '').padEnd(digits, '0')));
}

/** Products of the workspace, the catalogue messages that carry them, and the workspace currency. */
export class ProductService {
  constructor(private readonly messaging: MessagingService) {}

  /** The currency orders of a workspace are made in. */
  async currencyOf(em: EntityManager, workspaceId: string): Promise<string> {
    return (await em.findOne(CommerceSettings, { workspace: workspaceId }))?.currency ?? DEFAULT_CURRENCY;
  }

  async setCurrency(em: EntityManager, principal: Principal, workspaceId: string, currency: string): Promise<string> {
    const code = currencyCode(currency);
    await em.transactional(async (tx) => {
      const row = await tx.findOne(CommerceSettings, { workspace: workspaceId });
      const before = row?.currency ?? DEFAULT_CURRENCY;
      if (row) row.currency = code;
      else tx.create(CommerceSettings, { organization: tx.getReference(Organization, principal.organizationId), workspace: tx.getReference(Workspace, workspaceId), currency: code });
      audit(tx, actorOf(principal), { action: 'commerce.currency', targetType: 'Workspace', targetId: workspaceId, workspaceId, before: { currency: before }, after: { currency: code } });
    });
    return code;
  }

  /** Checks and normalises product fields; `creating` requires sku, name, price and currency. */
  private fields(input: ProductInput, creating: boolean): Partial<Product> {
    const out: Partial<Product> = {};
    if (creating || input.sku != null) {
      const sku = text(input.sku, 'sku', 64)!;
      if (!/^[\w.:/-]+$/.test(sku)) throw badInput('sku: letters, digits and _ . : / - only', { field: 'sku' });
      out.sku = sku;
    }
    if (creating || input.name != null) out.name = text(input.name, 'name', 200)!;
    if (input.description !== undefined) out.description = text(input.description, 'description', 2000, { optional: true });
    if (creating || input.priceAmount != null) out.priceAmount = minorUnits(input.priceAmount ?? NaN, 'priceAmount');
    if (creating || input.currency != null) out.currency = currencyCode(input.currency ?? '');
    if (input.active != null) out.active = input.active;
    if (input.imageUrl !== undefined) out.imageUrl = input.imageUrl === null || !input.imageUrl.trim() ? null : httpUrl(input.imageUrl, 'imageUrl');
    return out;
  }

  async create(em: EntityManager, principal: Principal, workspaceId: string, input: ProductInput): Promise<Product> {
    const fields = this.fields(input, true);
    try {
      return await em.transactional(async (tx) => {
        const product = tx.create(Product, {
          ...(fields as Required<Pick<Product, 'sku' | 'name' | 'priceAmount' | 'currency'>>),
          organization: tx.getReference(Organization, principal.organizationId),
          workspace: tx.getReference(Workspace, workspaceId),
        });
        audit(tx, actorOf(principal), { action: 'product.create', targetType: 'Product', targetId: product.id, workspaceId, after: { sku: product.sku } });
        return product;
      });
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) throw new DomainError(ErrorCode.CONFLICT, 'A product with this SKU exists', { field: 'sku' });
      throw err;
    }
  }

  async update(em: EntityManager, principal: Principal, id: string, input: ProductInput): Promise<Product> {
    const fields = this.fields(input, false);
    try {
      return await em.transactional(async (tx) => {
        const product = await tx.findOne(Product, { id });
        if (!product) throw notFound('Product');
        const before = { sku: product.sku, priceAmount: product.priceAmount, currency: product.currency, active: product.active };
        Object.assign(product, fields);
        audit(tx, actorOf(principal), { action: 'product.update', targetType: 'Product', targetId: id, workspaceId: product.workspaceId, before, after: { sku: product.sku, priceAmount: product.priceAmount, currency: product.currency, active: product.active } });
        return product;
      });
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) throw new DomainError(ErrorCode.CONFLICT, 'A product with this SKU exists', { field: 'sku' });
      throw err;
    }
  }

  async list(em: EntityManager, workspaceId: string, args: { first?: number | null; after?: string | null; activeOnly?: boolean | null }): Promise<Connection<Product>> {
    const size = pageSize(args.first);
    const after = decodeCursor(args.after, 2);
    const where: Record<string, unknown> = { workspace: workspaceId };
    if (args.activeOnly) where.active = true;
    if (after) where.$or = [{ createdAt: { $gt: new Date(after[0]) } }, { createdAt: new Date(after[0]), id: { $gt: after[1] } }];
    const rows = await em.find(Product, where, { orderBy: { createdAt: 'asc', id: 'asc' }, limit: size + 1 });
    return toConnection(rows, size, (p) => [p.createdAt.toISOString(), p.id]);
  }

  /**
   * Imports products from CSV: header `sku,name,price,currency` and optionally `description,active,imageUrl`;
   * price in major units ("12.50"). A known SKU is updated. Valid rows commit together; each invalid row is
   * reported with its line and reason and changes nothing.
   */
  async importCsv(em: EntityManager, principal: Principal, workspaceId: string, csv: string): Promise<ImportReport> {
    if (csv.length > 5_000_000) throw badInput('The CSV is larger than 5 MB', { field: 'csv' });
    let rows: string[][];
    try {
      rows = parse(csv, { relax_column_count: true, skip_empty_lines: false, bom: true }) as string[][];
    } catch (err) {
      throw badInput(`The CSV cannot be read: ${(err as Error).message.slice(0, 200)}`, { field: 'csv' });
    }
    if (rows.length < 2) throw badInput('The CSV needs a header row and at least one product', { field: 'csv' });
    if (rows.length - 1 > MAX_IMPORT_ROWS) throw badInput(`At most ${MAX_IMPORT_ROWS} rows per import`, { field: 'csv' });
    const header = new Map(rows[0]!.map((h, i) => [h.trim().toLowerCase().replace(/[\s_]/g, ''), i]));
    for (const required of ['sku', 'name', 'price', 'currency']) {
      if (!header.has(required)) throw badInput(`The CSV header needs a "${required}" column`, { field: 'csv' });
    }
    const col = (r: string[], name: string) => {
      const i = header.get(name);
      return i === undefined ? undefined : r[i]?.trim();
    };
    const accepted: Array<{ line: number; fields: Partial<Product> }> = [];
    const rejected: ImportReport['rejected'] = [];
    const seen = new Set<string>();
    rows.slice(1).forEach((r, index) => {
      const line = index + 2;
      if (r.every((c) => !c.trim())) return; // a blank line is nothing, not an error
      try {
        const currency = currencyCode(col(r, 'currency') ?? '');
        const active = col(r, 'active');
        if (active && !/^(true|false|yes|no|1|0)$/i.test(active)) throw badInput(`active "${active}" is not true or false`);
        const fields = this.fields({
          sku: col(r, 'sku') ?? '',
          name: col(r, 'name') ?? '',
          description: col(r, 'description') || null,
          priceAmount: parseMajorUnits(col(r, 'price') ?? '', currency),
          currency,
          active: active ? /^(true|yes|1)$/i.test(active) : null,
          imageUrl: col(r, 'imageurl') || null,
        }, true);
        if (seen.has(fields.sku!)) throw badInput(`duplicate of an earlier row (${fields.sku})`);
        seen.add(fields.sku!);
        accepted.push({ line, fields });
      } catch (err) {
        rejected.push({ line, reason: err instanceof DomainError ? err.message : 'unreadable row' });
      }
    });
    await em.transactional(async (tx) => {
      const existing = accepted.length
        ? await tx.find(Product, { workspace: workspaceId, sku: { $in: accepted.map((a) => a.fields.sku!) } })
        : [];
      const bySku = new Map(existing.map((p) => [p.sku, p]));
      for (const { fields } of accepted) {
        const known = bySku.get(fields.sku!);
        if (known) Object.assign(known, fields);
        else tx.create(Product, { ...(fields as Required<Pick<Product, 'sku' | 'name' | 'priceAmount' | 'currency'>>), organization: tx.getReference(Organization, principal.organizationId), workspace: tx.getReference(Workspace, workspaceId) });
      }
      audit(tx, actorOf(principal), { action: 'product.import', targetType: 'Workspace', targetId: workspaceId, workspaceId, after: { imported: accepted.length, rejected: rejected.length } });
    });
    return { imported: accepted.length, rejected: rejected.sort((a, b) => a.line - b.line) };
  }

  /** The text of a catalogue message: one paragraph per product, in the order given. */
  static formatCatalog(products: readonly Product[]): string {
    const parts = products.map((p) => [`• ${p.name} (${p.sku}): ${formatMoney(p.priceAmount, p.currency)}`, p.description, p.imageUrl].filter(Boolean).join('\n'));
    return `Our catalogue:\n\n${parts.join('\n\n')}`;
  }

  /**
   * Sends a catalogue in a thread through the inbox's send path (opt-outs, idempotency, the channel, the
   * thread's live events), then records which products went. A retry with the same idempotency key sends
   * nothing new and answers with the same record.
   */
  async sendCatalog(em: EntityManager, principal: Principal, input: { threadId: string; productIds: string[]; idempotencyKey?: string | null }): Promise<CatalogSend> {
    const ids = [...new Set(input.productIds)];
    if (!ids.length || ids.length > MAX_CATALOG_PRODUCTS) throw badInput(`Send 1 to ${MAX_CATALOG_PRODUCTS} products`, { field: 'productIds' });
    const thread = await em.findOne(Thread, { id: input.threadId });
    if (!thread) throw notFound('Thread');
    const found = await em.find(Product, { id: { $in: ids }, workspace: thread.workspaceId });
    const byId = new Map(found.map((p) => [p.id, p]));
    const products = ids.map((id) => byId.get(id));
    if (products.some((p) => !p)) throw notFound('Product');
    const inactive = products.filter((p) => !p!.active).map((p) => p!.sku);
    if (inactive.length) throw badInput(`Inactive products cannot be sent: ${inactive.join(', ')}`, { field: 'productIds' });
    const message = await this.messaging.send(em, principal, { threadId: thread.id, body: ProductService.formatCatalog(products as Product[]), idempotencyKey: input.idempotencyKey });
    const recorded = await em.findOne(CatalogSend, { messageId: message.id });
    if (recorded) return recorded;
    try {
      return await em.transactional(async (tx) => {
        const send = tx.create(CatalogSend, {
          organization: tx.getReference(Organization, principal.organizationId),
          workspace: tx.getReference(Workspace, thread.workspaceId),
          threadId: thread.id,
          messageId: message.id,
          productIds: ids,
          sentById: principal.userId,
        });
        audit(tx, actorOf(principal), { action: 'catalog.send', targetType: 'Message', targetId: message.id, workspaceId: thread.workspaceId, after: { threadId: thread.id, productIds: ids } });
        return send;
      });
    } catch (err) {
      // Two retries with one key: the message is one; so is its record.
      if (err instanceof UniqueConstraintViolationException) {
        const first = await em.fork().findOne(CatalogSend, { messageId: message.id });
        if (first) return first;
      }
      throw err;
    }
  }
}
