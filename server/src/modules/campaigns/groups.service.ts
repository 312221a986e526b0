import type { EntityManager } from '@mikro-orm/postgresql';
import { parse } from 'csv-parse/sync';
import { badInput, DomainError, ErrorCode, notFound } from '../../shared/errors';
import { decodeCursor, pageSize, toConnection, type Connection } from '../../graphql/pagination';
import type { Principal } from '../identity';
import { actorOf, audit } from '../identity';
import { Organization, Workspace } from '../identity';
import { normalizeEmailAddress, normalizePhone } from '../inbox';
import { Contact } from '../inbox';
import { CampaignGroup, CampaignGroupMember, type ContactFilterSpec } from './campaign.entity';
import { GroupRowError, type ContactFilterInput, type GroupChangeReport, type GroupContactsInput, type GroupRowRejection, type CampaignGroupMemberNode } from './campaign.types';

const MAX_CSV_BYTES = 5_000_000;
const MAX_CSV_ROWS = 100_000;
const MAX_IDS = 10_000;
/** Rows per INSERT statement (a parameter list far below Postgres' 65,535 limit). */
const CHUNK = 2_000;

function checkGroupName(name: string): string {
  const n = name.trim();
  if (!n || n.length > 100) throw badInput('A group name has 1 to 100 characters', { field: 'name' });
  return n;
}

/** A contact filter as stored: trimmed, with at least one condition. */
export function toFilterSpec(input: ContactFilterInput | null | undefined): ContactFilterSpec | null {
  if (!input) return null;
  const search = input.search?.trim().slice(0, 100) || null;
  let customField: ContactFilterSpec['customField'] = null;
  if (input.customField) {
    if (!/^[A-Za-z][\w]{0,49}$/.test(input.customField)) throw badInput('customField is letters, digits and _', { field: 'filter.customField' });
    customField = { name: input.customField, value: String(input.customValue ?? '') };
  }
  if (!search && !customField) throw badInput('A contact filter needs a search or a custom field', { field: 'filter' });
  return { search, customField };
}

/**
 * SQL matching a filter on the `contacts c` alias (unmerged contacts of `workspaceId`): the same search as
 * the contacts list (names, phone, email) plus a custom field equal to a value. Returns clause and params.
 */
export function filterSql(spec: ContactFilterSpec): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  if (spec.search) {
    const like = `%${spec.search.toLowerCase().replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
    parts.push(`(c.first_name ilike ? or c.last_name ilike ? or c.email ilike ? or c.phone ilike ?)`);
    params.push(like, like, like, like);
  }
  if (spec.customField) {
    parts.push(`c.custom_fields ->> ? = ?`);
    params.push(spec.customField.name, spec.customField.value);
  }
  return { sql: parts.length ? parts.join(' and ') : 'true', params };
}

/** Campaign groups: create, rename, delete; add and remove contacts by id, filter or CSV; size and members. */
// Membership times are cut to milliseconds: the keyset cursor carries an ISO timestamp (ms), and rows added
// together tie on it and are ordered by id.
export class CampaignGroupService {
  async create(em: EntityManager, principal: Principal, workspaceId: string, name: string): Promise<CampaignGroup> {
    const n = checkGroupName(name);
    return em.transactional(async (tx) => {
      if (await tx.findOne(CampaignGroup, { workspace: workspaceId, name: n })) throw new DomainError(ErrorCode.CONFLICT, 'A group with this name exists', { field: 'name' });
      const group = tx.create(CampaignGroup, { organization: tx.getReference(Organization, principal.organizationId), workspace: tx.getReference(Workspace, workspaceId), name: n });
      audit(tx, actorOf(principal), { action: 'campaignGroup.create', targetType: 'CampaignGroup', targetId: group.id, workspaceId, after: { name: n } });
      return group;
    });
  }

  async rename(em: EntityManager, principal: Principal, id: string, name: string): Promise<CampaignGroup> {
    const n = checkGroupName(name);
    return em.transactional(async (tx) => {
      const group = await tx.findOne(CampaignGroup, { id });
      if (!group) throw notFound('Campaign group');
      if (await tx.findOne(CampaignGroup, { workspace: group.workspaceId, name: n, id: { $ne: id } })) throw new DomainError(ErrorCode.CONFLICT, 'A group with this name exists', { field: 'name' });
      audit(tx, actorOf(principal), { action: 'campaignGroup.rename', targetType: 'CampaignGroup', targetId: id, workspaceId: group.workspaceId, before: { name: group.name }, after: { name: n } });
      group.name = n;
      return group;
    });
  }

  /** Deleting a group removes its memberships, never the contacts. */
  async delete(em: EntityManager, principal: Principal, id: string): Promise<boolean> {
    return em.transactional(async (tx) => {
      const group = await tx.findOne(CampaignGroup, { id });
      if (!group) throw notFound('Campaign group');
      await tx.nativeDelete(CampaignGroupMember, { group: id });
      audit(tx, actorOf(principal), { action: 'campaignGroup.delete', targetType: 'CampaignGroup', targetId: id, workspaceId: group.workspaceId, before: { name: group.name } });
      tx.remove(group);
      return true;
    });
  }

  private oneWay(input: GroupContactsInput): 'ids' | 'filter' | 'csv' {
    const ways = [input.contactIds ? 'ids' : null, input.filter ? 'filter' : null, input.csv !== null && input.csv !== undefined ? 'csv' : null].filter(Boolean) as Array<'ids' | 'filter' | 'csv'>;
    if (ways.length !== 1) throw badInput('Give exactly one of contactIds, filter or csv', { field: 'input' });
    return ways[0]!;
  }

  /** Adds contacts; every id or CSV row that cannot be added is reported with its line and a code, the rest commit together. */
  async addContacts(em: EntityManager, principal: Principal, groupId: string, input: GroupContactsInput): Promise<GroupChangeReport> {
    const way = this.oneWay(input);
    const rows = way === 'csv' ? this.parseCsv(input.csv!) : null;
    if (way === 'ids' && input.contactIds!.length > MAX_IDS) throw badInput(`At most ${MAX_IDS} ids per call`, { field: 'contactIds' });
    const spec = way === 'filter' ? toFilterSpec(input.filter) : null;
    return em.transactional(async (tx) => {
      const group = await tx.findOne(CampaignGroup, { id: groupId });
      if (!group) throw notFound('Campaign group');
      const rejected: GroupRowRejection[] = [];
      let contactIds: string[] = [];
      let createdContacts = 0;
      if (way === 'ids') {
        contactIds = await this.knownIds(tx, group, input.contactIds!, rejected);
      } else if (way === 'csv') {
        ({ contactIds, createdContacts } = await this.contactsFromCsv(tx, principal, group, rows!, rejected));
      } else {
        const f = filterSql(spec!);
        const found = await this.exec<{ id: string }>(tx, `select c.id from contacts c where c.organization_id = ? and c.workspace_id = ? and c.merged_into_id is null and ${f.sql}`, [group.organization.id, group.workspaceId, ...f.params]);
        contactIds = found.map((r) => r.id);
      }
      let changed = 0;
      for (let i = 0; i < contactIds.length; i += CHUNK) {
        const chunk = contactIds.slice(i, i + CHUNK);
        const inserted = await this.exec<{ id: string }>(
          tx,
          `insert into campaign_group_members (id, organization_id, group_id, contact_id, created_at)
           select gen_random_uuid(), ?, ?, x, date_trunc('milliseconds', now()) from unnest(?::uuid[]) as x
           on conflict (organization_id, group_id, contact_id) do nothing returning id`,
          [group.organization.id, group.id, `{${chunk.join(',')}}`],
        );
        changed += inserted.length;
      }
      audit(tx, actorOf(principal), { action: 'campaignGroup.addContacts', targetType: 'CampaignGroup', targetId: group.id, workspaceId: group.workspaceId, after: { way, added: changed, rejected: rejected.length, createdContacts } });
      return { changed, unchanged: contactIds.length - changed, createdContacts, rejected, size: await this.size(tx, group.id) };
    });
  }

  /** Removes contacts by ids or by a filter (CSV removal names contacts by phone). */
  async removeContacts(em: EntityManager, principal: Principal, groupId: string, input: GroupContactsInput): Promise<GroupChangeReport> {
    const way = this.oneWay(input);
    const rows = way === 'csv' ? this.parseCsv(input.csv!) : null;
    const spec = way === 'filter' ? toFilterSpec(input.filter) : null;
    return em.transactional(async (tx) => {
      const group = await tx.findOne(CampaignGroup, { id: groupId });
      if (!group) throw notFound('Campaign group');
      const rejected: GroupRowRejection[] = [];
      let contactIds: string[];
      if (way === 'ids') contactIds = await this.knownIds(tx, group, input.contactIds!, rejected);
      else if (way === 'csv') {
        const phones = this.phonesOf(rows!, rejected);
        const found = await this.exec<{ id: string; phone: string }>(tx, `select id, phone from contacts where organization_id = ? and workspace_id = ? and merged_into_id is null and phone = any(?::text[])`, [group.organization.id, group.workspaceId, `{${[...phones.keys()].join(',')}}`]);
        const byPhone = new Map(found.map((r) => [r.phone, r.id]));
        for (const [phone, line] of phones) if (!byPhone.has(phone)) rejected.push({ line, code: GroupRowError.UNKNOWN_CONTACT, reason: `No contact with phone ${phone}` });
        contactIds = [...byPhone.values()];
      } else {
        const f = filterSql(spec!);
        contactIds = (await this.exec<{ id: string }>(tx, `select c.id from contacts c where c.organization_id = ? and c.workspace_id = ? and c.merged_into_id is null and ${f.sql}`, [group.organization.id, group.workspaceId, ...f.params])).map((r) => r.id);
      }
      const removed = contactIds.length
        ? await this.exec<{ id: string }>(tx, `delete from campaign_group_members where organization_id = ? and group_id = ? and contact_id = any(?::uuid[]) returning id`, [group.organization.id, group.id, `{${contactIds.join(',')}}`])
        : [];
      audit(tx, actorOf(principal), { action: 'campaignGroup.removeContacts', targetType: 'CampaignGroup', targetId: group.id, workspaceId: group.workspaceId, after: { way, removed: removed.length } });
      return { changed: removed.length, unchanged: contactIds.length - removed.length, createdContacts: 0, rejected, size: await this.size(tx, group.id) };
    });
  }

  size(em: EntityManager, groupId: string): Promise<number> {
    return em.count(CampaignGroupMember, { group: groupId });
  }

  /** Sizes of several groups in one query (the `size` field of a list). */
  async sizes(em: EntityManager, organizationId: string, groupIds: readonly string[]): Promise<Map<string, number>> {
    const rows = await this.exec<{ group_id: string; n: string }>(em, `select group_id, count(*) as n from campaign_group_members where organization_id = ? and group_id = any(?::uuid[]) group by group_id`, [organizationId, `{${groupIds.join(',')}}`]);
    return new Map(rows.map((r) => [r.group_id, Number(r.n)]));
  }

  async list(em: EntityManager, workspaceId: string, args: { first?: number | null; after?: string | null }): Promise<Connection<CampaignGroup>> {
    const size = pageSize(args.first);
    const after = decodeCursor(args.after, 2);
    const where: Record<string, unknown> = { workspace: workspaceId };
    if (after) where.$or = [{ createdAt: { $lt: new Date(after[0]) } }, { createdAt: new Date(after[0]), id: { $lt: after[1] } }];
    const rows = await em.find(CampaignGroup, where, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: size + 1 });
    return toConnection(rows, size, (g) => [g.createdAt.toISOString(), g.id]);
  }

  /** Members, most recently added first, with their contacts in the same query. */
  async members(em: EntityManager, group: CampaignGroup, args: { first?: number | null; after?: string | null }): Promise<Connection<CampaignGroupMemberNode>> {
    const size = pageSize(args.first);
    const after = decodeCursor(args.after, 2);
    const where: Record<string, unknown> = { group: group.id };
    if (after) where.$or = [{ createdAt: { $lt: new Date(after[0]) } }, { createdAt: new Date(after[0]), id: { $lt: after[1] } }];
    const rows = await em.find(CampaignGroupMember, where, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: size + 1, populate: ['contact'] });
    const nodes = rows.map((m) => ({ workspaceId: group.workspaceId, contact: m.contact.getEntity(), addedAt: m.createdAt, memberId: m.id, createdAt: m.createdAt }));
    return toConnection(nodes, size, (n) => [n.createdAt.toISOString(), n.memberId]);
  }

  private async knownIds(tx: EntityManager, group: CampaignGroup, ids: string[], rejected: GroupRowRejection[]): Promise<string[]> {
    const found = new Set((await tx.find(Contact, { id: { $in: ids }, workspace: group.workspaceId, mergedIntoId: null }, { fields: ['id'] })).map((c) => c.id));
    const out: string[] = [];
    ids.forEach((id, i) => {
      if (found.has(id)) out.push(id);
      else rejected.push({ line: i + 1, code: GroupRowError.UNKNOWN_CONTACT, reason: 'No such contact in this workspace' });
    });
    return [...new Set(out)];
  }

  private parseCsv(csv: string): string[][] {
    if (csv.length > MAX_CSV_BYTES) throw badInput('The CSV is larger than 5 MB', { field: 'csv' });
    let rows: string[][];
    try {
      rows = parse(csv, { relax_column_count: true, skip_empty_lines: true, trim: true, bom: true }) as string[][];
    } catch (err) {
      throw badInput(`The CSV cannot be read: ${(err as Error).message.slice(0, 200)}`, { field: 'csv' });
    }
    if (rows.length < 2) throw badInput('The CSV needs a header row and at least one row', { field: 'csv' });
    if (rows.length - 1 > MAX_CSV_ROWS) throw badInput(`At most ${MAX_CSV_ROWS} rows per CSV`, { field: 'csv' });
    if (!rows[0]!.some((h) => h.toLowerCase() === 'phone')) throw badInput('The CSV header needs a phone column', { field: 'csv' });
    return rows;
  }

  /** Phones of CSV rows (first line wins), with bad rows rejected: phone -> line. */
  private phonesOf(rows: string[][], rejected: GroupRowRejection[]): Map<string, number> {
    const phoneAt = rows[0]!.findIndex((h) => h.toLowerCase() === 'phone');
    const out = new Map<string, number>();
    rows.slice(1).forEach((r, i) => {
      const line = i + 2;
      const raw = r[phoneAt]?.trim();
      if (!raw) return rejected.push({ line, code: GroupRowError.MISSING_PHONE, reason: 'The row has no phone number' });
      const phone = normalizePhone(raw);
      if (!phone) return rejected.push({ line, code: GroupRowError.INVALID_PHONE, reason: `Not a valid phone number: ${raw.slice(0, 40)}` });
      if (out.has(phone)) return rejected.push({ line, code: GroupRowError.DUPLICATE_ROW, reason: `Same phone as line ${out.get(phone)}` });
      out.set(phone, line);
    });
    return out;
  }

  /** The contacts of CSV rows by phone; rows for numbers the workspace does not know yet become contacts. */
  private async contactsFromCsv(tx: EntityManager, principal: Principal, group: CampaignGroup, rows: string[][], rejected: GroupRowRejection[]): Promise<{ contactIds: string[]; createdContacts: number }> {
    const header = rows[0]!.map((h) => h.trim());
    const known = ['phone', 'firstname', 'lastname', 'email'];
    const idx = (name: string) => header.findIndex((h) => h.toLowerCase().replace(/[\s_]/g, '') === name);
    const phones = this.phonesOf(rows, rejected);
    const orgId = group.organization.id;
    const existing = await this.exec<{ id: string; phone: string }>(tx, `select id, phone from contacts where organization_id = ? and workspace_id = ? and merged_into_id is null and phone = any(?::text[])`, [orgId, group.workspaceId, `{${[...phones.keys()].join(',')}}`]);
    const byPhone = new Map(existing.map((r) => [r.phone, r.id]));
    const fresh: Contact[] = [];
    for (const [phone, line] of phones) {
      if (byPhone.has(phone)) continue;
      const r = rows[line - 1]!;
      const cell = (name: string) => {
        const i = idx(name);
        return i < 0 ? null : r[i]?.trim() || null;
      };
      const email = cell('email');
      if (email && !normalizeEmailAddress(email)) {
        rejected.push({ line, code: GroupRowError.INVALID_ROW, reason: `Not a valid email: ${email.slice(0, 40)}` });
        continue;
      }
      const customFields: Record<string, string> = {};
      header.forEach((h, i) => {
        if (known.includes(h.toLowerCase().replace(/[\s_]/g, '')) || !r[i]?.trim()) return;
        customFields[h.replace(/\W/g, '_').replace(/^[^A-Za-z]/, 'f') .slice(0, 50)] = r[i]!.trim().slice(0, 1000);
      });
      const c = tx.create(Contact, {
        organization: tx.getReference(Organization, principal.organizationId),
        workspace: tx.getReference(Workspace, group.workspaceId),
        firstName: cell('firstname')?.slice(0, 100) ?? null,
        lastName: cell('lastname')?.slice(0, 100) ?? null,
        phone,
        email: email ? normalizeEmailAddress(email) : null,
        customFields,
      } as never);
      fresh.push(c);
      byPhone.set(phone, c.id);
    }
    await tx.flush();
    return { contactIds: [...byPhone.values()], createdContacts: fresh.length };
  }

  private exec<T>(em: EntityManager, sql: string, params: unknown[]): Promise<T[]> {
    return em.getConnection().execute<T[]>(sql, params, 'all', em.getTransactionContext());
  }
}
