import { ref } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput, DomainError, ErrorCode } from '../../shared/errors';
import { decodeCursor, encodeCursor, pageSize, type Connection } from '../../graphql/pagination';
import { actorOf, audit, Organization, type Principal } from '../identity';
import { CampaignGroup } from './campaign.entity';
import { ShortcodeKeyword, ShortcodeSubscription } from './shortcode.entity';
import type { ShortcodeKeywordInput, ShortcodeSubscriber, SubscribersAdded } from './shortcode.types';

const KEYWORD = /^[A-Z0-9]{2,20}$/;
/** Carrier keywords the inbox handles itself (opt-out, opt-in, help): never an opt-in keyword of ours. */
const RESERVED = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'START', 'UNSTOP', 'YES', 'HELP', 'INFO']);
const MAX_REPLY = 1600;
const MAX_IDS = 10_000;

/** What an inbound message says as a keyword: trimmed, upper case, trailing punctuation dropped. */
export function keywordOf(body: string): string | null {
  const word = body.trim().toUpperCase().replace(/[.!?]+$/, '');
  return KEYWORD.test(word) ? word : null;
}

function checkKeyword(raw: string): string {
  const k = raw.trim().toUpperCase();
  if (!KEYWORD.test(k)) throw badInput('A keyword has 2 to 20 letters and digits', { field: 'keyword' });
  if (RESERVED.has(k)) throw badInput(`${k} is a carrier keyword (opt-out, opt-in or help)`, { field: 'keyword' });
  return k;
}

function checkReply(raw: string): string {
  const r = raw.trim();
  if (!r || r.length > MAX_REPLY) throw badInput(`The automatic reply has 1 to ${MAX_REPLY} characters`, { field: 'autoReply' });
  return r;
}

/**
 * Shortcode keywords of a workspace (SHORTCODE_MANAGE): the keywords and their automatic replies, their
 * subscribers (listed, added by hand, opted out). Inbound keyword messages are applied by ShortcodeWorker.
 */
export class ShortcodeService {
  list(em: EntityManager, workspaceId: string): Promise<ShortcodeKeyword[]> {
    return em.find(ShortcodeKeyword, { workspaceId }, { orderBy: { keyword: 'asc' } });
  }

  private async keywordIn(em: EntityManager, workspaceId: string, id: string): Promise<ShortcodeKeyword> {
    const k = await em.findOne(ShortcodeKeyword, { id, workspaceId });
    if (!k) throw badInput('No such keyword in this workspace', { field: 'keywordId' });
    return k;
  }

  private async groupIn(em: EntityManager, workspaceId: string, id: string): Promise<CampaignGroup> {
    const g = await em.findOne(CampaignGroup, { id, workspace: workspaceId });
    if (!g) throw badInput('No such campaign group in this workspace', { field: 'groupId' });
    return g;
  }

  async create(em: EntityManager, principal: Principal, workspaceId: string, input: ShortcodeKeywordInput): Promise<ShortcodeKeyword> {
    if (!input.keyword || !input.groupId || !input.autoReply) throw badInput('A keyword needs a keyword, a groupId and an autoReply', { field: 'input' });
    const keyword = checkKeyword(input.keyword);
    const autoReply = checkReply(input.autoReply);
    return em.transactional(async (tx) => {
      const group = await this.groupIn(tx, workspaceId, input.groupId!);
      if (await tx.count(ShortcodeKeyword, { workspaceId, keyword })) throw new DomainError(ErrorCode.CONFLICT, `The keyword ${keyword} exists`, { field: 'keyword' });
      const k = tx.create(ShortcodeKeyword, { organization: tx.getReference(Organization, principal.organizationId), workspaceId, keyword, group, autoReply, active: input.active ?? true, createdById: principal.userId });
      audit(tx, actorOf(principal), { action: 'shortcode.keyword.create', targetType: 'ShortcodeKeyword', targetId: k.id, workspaceId, after: { keyword, groupId: group.id } });
      return k;
    });
  }

  async update(em: EntityManager, principal: Principal, workspaceId: string, id: string, input: ShortcodeKeywordInput): Promise<ShortcodeKeyword> {
    return em.transactional(async (tx) => {
      const k = await this.keywordIn(tx, workspaceId, id);
      const before = { keyword: k.keyword, groupId: k.groupId, active: k.active };
      if (input.keyword) {
        const keyword = checkKeyword(input.keyword);
        if (keyword !== k.keyword && (await tx.count(ShortcodeKeyword, { workspaceId, keyword }))) throw new DomainError(ErrorCode.CONFLICT, `The keyword ${keyword} exists`, { field: 'keyword' });
        k.keyword = keyword;
      }
      if (input.groupId) k.group = ref(await this.groupIn(tx, workspaceId, input.groupId));
      if (input.autoReply !== undefined && input.autoReply !== null) k.autoReply = checkReply(input.autoReply);
      if (input.active !== undefined && input.active !== null) k.active = input.active;
      audit(tx, actorOf(principal), { action: 'shortcode.keyword.update', targetType: 'ShortcodeKeyword', targetId: id, workspaceId, before, after: { keyword: k.keyword, groupId: k.group.id, active: k.active } });
      return k;
    });
  }

  /** Deletes the keyword and its subscriptions; the group and its members stay. */
  async delete(em: EntityManager, principal: Principal, workspaceId: string, id: string): Promise<boolean> {
    return em.transactional(async (tx) => {
      const k = await this.keywordIn(tx, workspaceId, id);
      await tx.nativeDelete(ShortcodeSubscription, { keyword: id });
      audit(tx, actorOf(principal), { action: 'shortcode.keyword.delete', targetType: 'ShortcodeKeyword', targetId: id, workspaceId, before: { keyword: k.keyword } });
      tx.remove(k);
      return true;
    });
  }

  /** Subscribers of a keyword, most recent first (opted-out ones too with includeOptedOut). */
  async subscribers(em: EntityManager, workspaceId: string, keywordId: string, args: { first?: number | null; after?: string | null; includeOptedOut?: boolean | null }): Promise<Connection<ShortcodeSubscriber>> {
    const k = await this.keywordIn(em, workspaceId, keywordId);
    const size = pageSize(args.first);
    const after = decodeCursor(args.after, 2);
    const rows = await em.getConnection().execute<Array<Record<string, unknown>>>(
      `select s.id, s.contact_id, c.phone, c.first_name, c.last_name, s.source, date_trunc('milliseconds', s.created_at) as created_at, s.opted_out_at, s.opted_out_by_id
         from shortcode_subscriptions s join contacts c on c.organization_id = s.organization_id and c.id = s.contact_id
        where s.organization_id = ? and s.keyword_id = ? ${args.includeOptedOut ? '' : 'and s.opted_out_at is null'}
          ${after ? `and (date_trunc('milliseconds', s.created_at), s.id) < (?::timestamptz, ?::uuid)` : ''}
        order by date_trunc('milliseconds', s.created_at) desc, s.id desc limit ?`,
      [k.organization.id, k.id, ...(after ?? []), size + 1],
      'all',
      em.getTransactionContext(),
    );
    const nodes: ShortcodeSubscriber[] = rows.map((r) => ({
      id: r.id as string,
      workspaceId,
      keywordId,
      contactId: r.contact_id as string,
      phone: (r.phone as string | null) ?? null,
      firstName: (r.first_name as string | null) ?? null,
      lastName: (r.last_name as string | null) ?? null,
      source: r.source as string,
      subscribedAt: new Date(r.created_at as string),
      optedOutAt: r.opted_out_at ? new Date(r.opted_out_at as string) : null,
      optedOutById: (r.opted_out_by_id as string | null) ?? null,
    }));
    const page = nodes.slice(0, size);
    const cursor = (n: ShortcodeSubscriber) => encodeCursor([n.subscribedAt.toISOString(), n.id]);
    return { edges: page.map((n) => ({ cursor: cursor(n), node: n })), pageInfo: { hasNextPage: nodes.length > size, endCursor: page.length ? cursor(page[page.length - 1]!) : null } };
  }

  /** Subscribes contacts of the workspace by hand (and adds them to the keyword's group); opted-out ones again. */
  async addSubscribers(em: EntityManager, principal: Principal, workspaceId: string, keywordId: string, contactIds: string[]): Promise<SubscribersAdded> {
    const ids = [...new Set(contactIds)];
    if (!ids.length || ids.length > MAX_IDS) throw badInput(`Give 1 to ${MAX_IDS} contact ids`, { field: 'contactIds' });
    return em.transactional(async (tx) => {
      const k = await this.keywordIn(tx, workspaceId, keywordId);
      const org = k.organization.id;
      const run = <T>(sql: string, params: unknown[]) => tx.getConnection().execute<T[]>(sql, params, 'all', tx.getTransactionContext());
      const known = await run<{ id: string }>(`select id from contacts where organization_id = ? and workspace_id = ? and merged_into_id is null and id = any(?::uuid[])`, [org, workspaceId, `{${ids.join(',')}}`]);
      if (!known.length) return { added: 0, alreadySubscribed: 0, unknown: ids.length };
      const list = `{${known.map((r) => r.id).join(',')}}`;
      const changed = await run<{ id: string }>(
        `insert into shortcode_subscriptions (id, organization_id, keyword_id, contact_id, workspace_id, source, created_at)
         select gen_random_uuid(), ?, ?, x, ?, 'MANUAL', now() from unnest(?::uuid[]) as x
         on conflict (organization_id, keyword_id, contact_id) do update set opted_out_at = null, opted_out_by_id = null
           where shortcode_subscriptions.opted_out_at is not null
         returning id`,
        [org, k.id, workspaceId, list],
      );
      await run(
        `insert into campaign_group_members (id, organization_id, group_id, contact_id, created_at)
         select gen_random_uuid(), ?, ?, x, date_trunc('milliseconds', now()) from unnest(?::uuid[]) as x
         on conflict (organization_id, group_id, contact_id) do nothing`,
        [org, k.group.id, list],
      );
      audit(tx, actorOf(principal), { action: 'shortcode.subscribers.add', targetType: 'ShortcodeKeyword', targetId: k.id, workspaceId, after: { added: changed.length } });
      return { added: changed.length, alreadySubscribed: known.length - changed.length, unknown: ids.length - known.length };
    });
  }

  /** Opts a subscriber out: the row stays with who and when; the contact leaves the keyword's group. */
  async optOut(em: EntityManager, principal: Principal, workspaceId: string, subscriptionId: string): Promise<ShortcodeSubscriber> {
    return em.transactional(async (tx) => {
      const s = await tx.findOne(ShortcodeSubscription, { id: subscriptionId, workspaceId }, { populate: ['keyword', 'contact'] });
      if (!s) throw badInput('No such subscriber in this workspace', { field: 'subscriptionId' });
      const keyword = s.keyword.getEntity();
      if (!s.optedOutAt) {
        s.optedOutAt = new Date();
        s.optedOutById = principal.userId;
        await tx.getConnection().execute(
          `delete from campaign_group_members where organization_id = ? and group_id = ? and contact_id = ?`,
          [keyword.organization.id, keyword.group.id, s.contact.id],
          'run',
          tx.getTransactionContext(),
        );
        audit(tx, actorOf(principal), { action: 'shortcode.subscriber.optOut', targetType: 'ShortcodeKeyword', targetId: keyword.id, workspaceId, after: { contactId: s.contact.id } });
      }
      const c = s.contact.getEntity();
      return {
        id: s.id,
        workspaceId,
        keywordId: keyword.id,
        contactId: c.id,
        phone: c.phone,
        firstName: c.firstName,
        lastName: c.lastName,
        source: s.source,
        subscribedAt: s.createdAt,
        optedOutAt: s.optedOutAt,
        optedOutById: s.optedOutById,
      };
    });
  }
}
