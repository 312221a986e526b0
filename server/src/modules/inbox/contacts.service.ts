import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput, DomainError, ErrorCode, notFound } from '../../shared/errors';
import type { Principal } from '../identity';
import { decodeCursor, pageSize, toConnection, type Connection } from '../../graphql/pagination';
import type { Clock } from '../../shared/clock';
import { actorOf, audit } from '../identity';
import { assertMayEditContactsIn, assertMayManageOptOutAt } from './contact-policy';
import { Organization, Workspace } from '../identity';
import { normalizeAddress, normalizeEmailAddress, normalizePhone, parseCsv } from './addresses';
import { Contact, OptOut, OptOutSource } from './contact.entity';
import { Thread } from './thread.entity';

export interface ContactInput {
  firstName?: string | null;
  lastName?: string | null;
  phone?: string | null;
  email?: string | null;
  customFields?: Record<string, unknown> | null;
}

export interface ImportReport {
  imported: number;
  rejected: Array<{ line: number; reason: string }>;
}

const MAX_IMPORT_ROWS = 50_000;

function cleanName(v: string | null | undefined, field: string): string | null {
  if (v === null || v === undefined) return null;
  const t = v.trim();
  if (t.length > 100) throw badInput(`${field} has at most 100 characters`, { field });
  return t || null;
}

function cleanCustomFields(fields: Record<string, unknown> | null | undefined): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {};
  if (!fields) return out;
  const entries = Object.entries(fields);
  if (entries.length > 50) throw badInput('At most 50 custom fields', { field: 'customFields' });
  for (const [k, v] of entries) {
    if (!/^[A-Za-z][\w]{0,49}$/.test(k)) throw badInput(`Custom field names are letters, digits and _ (got "${k}")`, { field: 'customFields' });
    if (v !== null && !['string', 'number', 'boolean'].includes(typeof v)) throw badInput(`Custom field ${k} must be a string, number or boolean`, { field: 'customFields' });
    if (typeof v === 'string' && v.length > 1000) throw badInput(`Custom field ${k} is too long`, { field: 'customFields' });
    out[k] = v as string | number | boolean | null;
  }
  return out;
}

/** Contacts (create, edit, search, CSV import, merge) and opt-outs. */
export class ContactService {
  constructor(private readonly clock: Clock) {}

  private fields(input: ContactInput, partial: boolean): Partial<Contact> {
    const out: Partial<Contact> = {};
    if (!partial || input.firstName !== undefined) out.firstName = cleanName(input.firstName, 'firstName');
    if (!partial || input.lastName !== undefined) out.lastName = cleanName(input.lastName, 'lastName');
    if (!partial || input.phone !== undefined) {
      if (input.phone) {
        const phone = normalizePhone(input.phone);
        if (!phone) throw badInput('Not a valid phone number (use E.164, e.g. +15551234567)', { field: 'phone' });
        out.phone = phone;
      } else out.phone = null;
    }
    if (!partial || input.email !== undefined) {
      if (input.email) {
        const email = normalizeEmailAddress(input.email);
        if (!email) throw badInput('Not a valid email address', { field: 'email' });
        out.email = email;
      } else out.email = null;
    }
    if (!partial || input.customFields !== undefined) out.customFields = cleanCustomFields(input.customFields);
    return out;
  }

  async create(em: EntityManager, principal: Principal, workspaceId: string, input: ContactInput): Promise<Contact> {
    const fields = this.fields(input, false);
    if (!fields.phone && !fields.email) throw badInput('A contact needs a phone number or an email', { field: 'phone' });
    return em.transactional(async (tx) => {
      if (fields.phone) await this.assertPhoneFree(tx, workspaceId, fields.phone, null);
      const contact = tx.create(Contact, {
        organization: tx.getReference(Organization, principal.organizationId),
        workspace: tx.getReference(Workspace, workspaceId),
        ...fields,
      } as never);
      audit(tx, actorOf(principal), { action: 'contact.create', targetType: 'Contact', targetId: contact.id, workspaceId, after: { ...fields } });
      return contact;
    });
  }

  /**
   * One contact per phone number in a workspace (a unique rule: inbound messages find their contact by it).
   * The row lock of a concurrent insert makes the loser of a race fail on the rule instead: CONFLICT too.
   */
  private async assertPhoneFree(tx: EntityManager, workspaceId: string, phone: string, exceptId: string | null): Promise<void> {
    const holder = await tx.findOne(Contact, { workspace: workspaceId, phone, mergedIntoId: null });
    if (holder && holder.id !== exceptId) {
      throw new DomainError(ErrorCode.CONFLICT, 'A contact with this phone number already exists in this workspace', { field: 'phone', contactId: holder.id });
    }
  }

  async update(em: EntityManager, principal: Principal, id: string, input: ContactInput): Promise<Contact> {
    const fields = this.fields(input, true);
    return em.transactional(async (tx) => {
      const contact = await tx.findOne(Contact, { id, mergedIntoId: null });
      if (!contact) throw notFound('Contact');
      const before = { firstName: contact.firstName, lastName: contact.lastName, phone: contact.phone, email: contact.email, customFields: contact.customFields };
      if (input.customFields) fields.customFields = { ...contact.customFields, ...fields.customFields };
      if (fields.phone && fields.phone !== contact.phone) await this.assertPhoneFree(tx, contact.workspaceId, fields.phone, contact.id);
      tx.assign(contact, fields);
      if (!contact.phone && !contact.email) throw badInput('A contact needs a phone number or an email', { field: 'phone' });
      audit(tx, actorOf(principal), { action: 'contact.update', targetType: 'Contact', targetId: id, workspaceId: contact.workspaceId, before, after: { ...fields } });
      return contact;
    });
  }

  /** Contacts of a workspace, newest first, optionally matching a name, phone or email fragment. */
  async list(
    em: EntityManager,
    principal: Principal,
    args: { workspaceId: string; search?: string | null; first?: number | null; after?: string | null },
  ): Promise<Connection<Contact>> {
    const size = pageSize(args.first);
    const after = decodeCursor(args.after, 2) as [string, string] | null;
    const where: Record<string, unknown> = { workspace: args.workspaceId, mergedIntoId: null };
    const term = args.search?.trim().toLowerCase().slice(0, 100);
    const and: Record<string, unknown>[] = [];
    if (term) {
      const phone = normalizePhone(term);
      const like = `%${term.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
      and.push({
        $or: [
          { firstName: { $ilike: like } },
          { lastName: { $ilike: like } },
          { email: { $ilike: like } },
          { phone: { $ilike: like } },
          ...(phone ? [{ phone }] : []),
        ],
      });
    }
    if (after) and.push({ $or: [{ createdAt: { $lt: new Date(after[0]) } }, { createdAt: new Date(after[0]), id: { $lt: after[1] } }] });
    if (and.length) where.$and = and;
    void principal;
    const rows = await em.find(Contact, where, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: size + 1 });
    return toConnection(rows, size, (c) => [c.createdAt.toISOString(), c.id]);
  }

  /**
   * Imports contacts from CSV (header row: firstName,lastName,phone,email, other columns become custom
   * fields). Valid rows are committed together; invalid ones are reported with their line and reason.
   */
  async importCsv(em: EntityManager, principal: Principal, workspaceId: string, csv: string): Promise<ImportReport> {
    if (csv.length > 5_000_000) throw badInput('The CSV is larger than 5 MB', { field: 'csv' });
    const rows = parseCsv(csv);
    if (rows.length < 2) throw badInput('The CSV needs a header row and at least one contact', { field: 'csv' });
    if (rows.length - 1 > MAX_IMPORT_ROWS) throw badInput(`At most ${MAX_IMPORT_ROWS} rows per import`, { field: 'csv' });
    const header = rows[0]!.map((h) => h.trim());
    const known = new Map(header.map((h, i) => [h.toLowerCase().replace(/[\s_]/g, ''), i]));
    const col = (r: string[], name: string) => {
      const i = known.get(name);
      return i === undefined ? undefined : r[i]?.trim();
    };
    const custom = header.filter((h) => !['firstname', 'lastname', 'phone', 'email'].includes(h.toLowerCase().replace(/[\s_]/g, '')));
    const accepted: ContactInput[] = [];
    const acceptedLines: number[] = [];
    const rejected: ImportReport['rejected'] = [];
    const seen = new Set<string>();
    rows.slice(1).forEach((r, index) => {
      const line = index + 2;
      try {
        const customFields: Record<string, unknown> = {};
        for (const h of custom) if (r[header.indexOf(h)]?.trim()) customFields[h.replace(/\W/g, '_')] = r[header.indexOf(h)]!.trim();
        const input = { firstName: col(r, 'firstname') || null, lastName: col(r, 'lastname') || null, phone: col(r, 'phone') || null, email: col(r, 'email') || null, customFields };
        const fields = this.fields(input, false);
        if (!fields.phone && !fields.email) throw badInput('needs a phone number or an email');
        const key = fields.phone ?? fields.email!;
        if (seen.has(key)) throw badInput(`duplicate of an earlier row (${key})`);
        seen.add(key);
        accepted.push(fields as ContactInput);
        acceptedLines.push(line);
      } catch (err) {
        rejected.push({ line, reason: err instanceof DomainError ? err.message : 'unreadable row' });
      }
    });
    await em.transactional(async (tx) => {
      const organization = tx.getReference(Organization, principal.organizationId);
      const workspace = tx.getReference(Workspace, workspaceId);
      // Rows whose phone number already has a contact are reported, not imported (one contact per number).
      const phones = accepted.map((f) => f.phone).filter((p): p is string => !!p);
      // E.164 numbers are digits and '+': safe inside an array literal, one parameter however many rows.
      const rows = phones.length
        ? await tx.getConnection().execute<Array<{ phone: string }>>(
            `select phone from contacts where organization_id = ? and workspace_id = ? and merged_into_id is null and phone = any(?::text[])`,
            [principal.organizationId, workspaceId, `{${phones.join(',')}}`],
            'all',
            tx.getTransactionContext(),
          )
        : [];
      const taken = new Set(rows.map((r) => r.phone));
      for (let i = accepted.length - 1; i >= 0; i--) {
        const phone = accepted[i]!.phone;
        if (phone && taken.has(phone)) {
          rejected.push({ line: acceptedLines[i]!, reason: `already a contact (${phone})` });
          accepted.splice(i, 1);
          acceptedLines.splice(i, 1);
        }
      }
      rejected.sort((a, b) => a.line - b.line);
      for (const fields of accepted) tx.create(Contact, { organization, workspace, ...fields } as never);
      audit(tx, actorOf(principal), { action: 'contact.import', targetType: 'Workspace', targetId: workspaceId, workspaceId, after: { imported: accepted.length, rejected: rejected.length } });
    });
    return { imported: accepted.length, rejected };
  }

  /** Folds a duplicate into the contact kept: threads move, empty fields fill in, the duplicate is retired. */
  async merge(em: EntityManager, principal: Principal, keepId: string, mergeId: string): Promise<Contact> {
    if (keepId === mergeId) throw badInput('Pick two different contacts', { field: 'mergeId' });
    return em.transactional(async (tx) => {
      const [keep, dup] = await Promise.all([tx.findOne(Contact, { id: keepId, mergedIntoId: null }), tx.findOne(Contact, { id: mergeId, mergedIntoId: null })]);
      if (!keep || !dup) throw notFound('Contact');
      if (keep.workspaceId !== dup.workspaceId) throw badInput('Contacts of different workspaces cannot be merged', { field: 'mergeId' });
      assertMayEditContactsIn(principal, dup.workspaceId);
      const sameAddress = (keep.phone && keep.phone === dup.phone) || (keep.email && keep.email === dup.email);
      if (!sameAddress && keep.phone && dup.phone && keep.email && dup.email) {
        throw badInput('These contacts share neither a phone number nor an email', { field: 'mergeId' });
      }
      // Retire the duplicate first: the kept contact may take over its phone number (one per workspace).
      dup.mergedIntoId = keep.id;
      await tx.flush();
      keep.firstName ??= dup.firstName;
      keep.lastName ??= dup.lastName;
      keep.phone ??= dup.phone;
      keep.email ??= dup.email;
      keep.customFields = { ...dup.customFields, ...keep.customFields };
      await tx.nativeUpdate(Thread, { contact: dup.id }, { contact: keep.id });
      audit(tx, actorOf(principal), { action: 'contact.merge', targetType: 'Contact', targetId: keep.id, workspaceId: keep.workspaceId, before: { mergedId: dup.id }, after: { keptId: keep.id } });
      return keep;
    });
  }

  // ---------------------------------------------------------------- opt-outs

  /** Active opt-outs covering an address in a workspace (its own, or organization-wide). */
  async activeOptOut(em: EntityManager, workspaceId: string, address: string): Promise<OptOut | null> {
    const rows = await em.find(OptOut, { address, reversedAt: null, $or: [{ workspace: workspaceId }, { workspace: null }] });
    return rows.find((o) => o.activeAt(this.clock.now())) ?? null;
  }

  async assertNotOptedOut(em: EntityManager, workspaceId: string, address: string | null): Promise<void> {
    if (!address) throw badInput('The contact has no phone number to send to', { field: 'threadId' });
    if (await this.activeOptOut(em, workspaceId, address)) {
      throw new DomainError(ErrorCode.OPTED_OUT, 'This contact has opted out; nothing was sent');
    }
  }

  async optOut(
    em: EntityManager,
    actor: { principal: Principal | null; organizationId: string },
    input: { workspaceId: string | null; address: string; until?: Date | null; reason?: string | null; source?: OptOutSource },
  ): Promise<OptOut> {
    const address = normalizeAddress(input.address);
    if (!address) throw badInput('Not a phone number or email', { field: 'address' });
    // The system (an inbound STOP) has no principal and opts out where the message arrived.
    if (actor.principal) assertMayManageOptOutAt(actor.principal, input.workspaceId);
    if (input.until && input.until.getTime() <= this.clock.now().getTime()) throw badInput('until must be in the future', { field: 'until' });
    const existing = await em.find(OptOut, { address, workspace: input.workspaceId, reversedAt: null });
    const current = existing.find((o) => o.activeAt(this.clock.now()));
    if (current && !current.until && !input.until) return current;
    const optOut = em.create(OptOut, {
      organization: em.getReference(Organization, actor.organizationId),
      workspace: input.workspaceId ? em.getReference(Workspace, input.workspaceId) : null,
      address,
      until: input.until ?? null,
      reason: input.reason?.slice(0, 1000) ?? null,
      source: input.source ?? OptOutSource.MANUAL,
      // A keyword opt-out is the contact's own act, whoever relayed the message.
      createdById: input.source === OptOutSource.KEYWORD ? null : (actor.principal?.userId ?? null),
    });
    audit(em, actor.principal ? actorOf(actor.principal) : { organizationId: actor.organizationId, userId: null }, {
      action: 'optOut.create',
      targetType: 'OptOut',
      targetId: optOut.id,
      workspaceId: input.workspaceId,
      after: { address, until: input.until?.toISOString() ?? null, reason: optOut.reason, source: optOut.source },
    });
    return optOut;
  }

  async reverse(em: EntityManager, principal: Principal | null, organizationId: string, optOut: OptOut): Promise<OptOut> {
    if (optOut.reversedAt) return optOut;
    optOut.reversedAt = this.clock.now();
    optOut.reversedById = principal?.userId ?? null;
    audit(em, principal ? actorOf(principal) : { organizationId, userId: null }, {
      action: 'optOut.reverse',
      targetType: 'OptOut',
      targetId: optOut.id,
      workspaceId: optOut.workspaceId,
      before: { reversedAt: null },
      after: { reversedAt: optOut.reversedAt.toISOString() },
    });
    return optOut;
  }

  async reverseById(em: EntityManager, principal: Principal, id: string): Promise<OptOut> {
    return em.transactional(async (tx) => {
      const optOut = await tx.findOne(OptOut, { id });
      if (!optOut) throw notFound('Opt-out');
      assertMayManageOptOutAt(principal, optOut.workspaceId);
      return this.reverse(tx, principal, principal.organizationId, optOut);
    });
  }

  async listOptOuts(
    em: EntityManager,
    args: { workspaceId: string | null; search?: string | null; includeReversed?: boolean | null; first?: number | null; after?: string | null },
  ): Promise<Connection<OptOut>> {
    const size = pageSize(args.first);
    const after = decodeCursor(args.after, 2) as [string, string] | null;
    const where: Record<string, unknown> = { workspace: args.workspaceId };
    if (!args.includeReversed) where.reversedAt = null;
    const and: Record<string, unknown>[] = [];
    const term = args.search?.trim().toLowerCase();
    if (term) and.push({ address: { $ilike: `%${(normalizePhone(term) ?? term).replace(/[\\%_]/g, (m) => `\\${m}`)}%` } });
    if (after) and.push({ $or: [{ createdAt: { $lt: new Date(after[0]) } }, { createdAt: new Date(after[0]), id: { $lt: after[1] } }] });
    if (and.length) where.$and = and;
    const rows = await em.find(OptOut, where, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: size + 1 });
    return toConnection(rows, size, (o) => [o.createdAt.toISOString(), o.id]);
  }

  /** A list of addresses (CSV, first column or an "address"/"phone"/"email" column) opted out in one unit. */
  async uploadOptOuts(em: EntityManager, principal: Principal, workspaceId: string | null, csv: string, reason: string | null): Promise<ImportReport> {
    const rows = parseCsv(csv);
    if (!rows.length) throw badInput('The CSV is empty', { field: 'csv' });
    const header = rows[0]!.map((h) => h.trim().toLowerCase());
    const idx = Math.max(0, header.findIndex((h) => ['address', 'phone', 'email'].includes(h)));
    const hasHeader = header.some((h) => ['address', 'phone', 'email'].includes(h));
    const rejected: ImportReport['rejected'] = [];
    const addresses: string[] = [];
    rows.slice(hasHeader ? 1 : 0).forEach((r, i) => {
      const a = normalizeAddress(r[idx] ?? '');
      if (a) addresses.push(a);
      else rejected.push({ line: i + (hasHeader ? 2 : 1), reason: 'not a phone number or email' });
    });
    await em.transactional(async (tx) => {
      for (const address of new Set(addresses)) {
        await this.optOut(tx, { principal, organizationId: principal.organizationId }, { workspaceId, address, reason, source: OptOutSource.IMPORT });
      }
    });
    return { imported: new Set(addresses).size, rejected };
  }
}
