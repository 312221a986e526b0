import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput, DomainError, ErrorCode, notFound } from '../../shared/errors';
import type { Principal } from '../identity';
import { decodeCursor, pageSize, toConnection, type Connection } from '../../graphql/pagination';
import { actorOf, audit } from '../identity';
import { checkName } from '../../shared/input';
import { Organization, Workspace } from '../identity';
import { KeywordAlert, KeywordRule, Tag, Template, ThreadTag, WorkspaceSettings, type WeeklyHours } from './catalogue.entity';
import { validateTimeZone, validateWeeklyHours } from './rules';
import { Thread } from './thread.entity';
import { emitThreadEvent, EventType } from './events';

function optionalText(v: string | null | undefined, field: string, max = 1600): string | null {
  if (v === null || v === undefined) return null;
  const t = v.trim();
  if (t.length > max) throw badInput(`${field} has at most ${max} characters`, { field });
  return t || null;
}

/** Tags, templates, workspace inbox settings (office hours, automatic replies) and keyword rules. */
export class CatalogueService {
  private base(em: EntityManager, principal: Principal, workspaceId: string) {
    return { organization: em.getReference(Organization, principal.organizationId), workspace: em.getReference(Workspace, workspaceId) };
  }

  // --- tags
  async createTag(em: EntityManager, principal: Principal, workspaceId: string, name: string, color?: string | null): Promise<Tag> {
    const n = checkName(name, 'name', 50);
    return em.transactional(async (tx) => {
      if (await tx.findOne(Tag, { workspace: workspaceId, name: n })) throw new DomainError(ErrorCode.CONFLICT, 'A tag with this name exists', { field: 'name' });
      const tag = tx.create(Tag, { ...this.base(tx, principal, workspaceId), name: n, color: optionalText(color, 'color', 20) });
      audit(tx, actorOf(principal), { action: 'tag.create', targetType: 'Tag', targetId: tag.id, workspaceId, after: { name: n } });
      return tag;
    });
  }

  async deleteTag(em: EntityManager, principal: Principal, id: string): Promise<boolean> {
    return em.transactional(async (tx) => {
      const tag = await tx.findOne(Tag, { id });
      if (!tag) throw notFound('Tag');
      await tx.nativeDelete(ThreadTag, { tag: id });
      audit(tx, actorOf(principal), { action: 'tag.delete', targetType: 'Tag', targetId: id, workspaceId: tag.workspaceId, before: { name: tag.name } });
      tx.remove(tag);
      return true;
    });
  }

  async tagThread(em: EntityManager, principal: Principal, threadId: string, tagId: string, apply: boolean): Promise<Thread> {
    return em.transactional(async (tx) => {
      const thread = await tx.findOne(Thread, { id: threadId });
      if (!thread) throw notFound('Thread');
      const tag = await tx.findOne(Tag, { id: tagId, workspace: thread.workspaceId });
      if (!tag) throw notFound('Tag');
      const existing = await tx.findOne(ThreadTag, { thread, tag });
      if (apply && !existing) tx.create(ThreadTag, { organization: thread.organization, thread, tag });
      if (!apply && existing) tx.remove(existing);
      if (apply !== Boolean(existing)) {
        audit(tx, actorOf(principal), { action: apply ? 'thread.tag' : 'thread.untag', targetType: 'Thread', targetId: threadId, workspaceId: thread.workspaceId, after: { tagId, name: tag.name } });
        await tx.flush();
        const tagIds = (await tx.find(ThreadTag, { thread })).map((tt) => tt.tag.id);
        await emitThreadEvent(tx, EventType.TAGS_CHANGED, thread, { tagIds });
      }
      return thread;
    });
  }

  async tagsOf(em: EntityManager, threadIds: readonly string[]): Promise<Map<string, Tag[]>> {
    // In the order they were applied, as a thread page reads them (threads.service.ts).
    const rows = await em.find(ThreadTag, { thread: { $in: [...threadIds] } }, { populate: ['tag'], orderBy: { createdAt: 'asc', id: 'asc' } });
    const out = new Map<string, Tag[]>();
    for (const r of rows) out.set(r.thread.id, [...(out.get(r.thread.id) ?? []), r.tag.getEntity()]);
    return out;
  }

  // --- templates
  async saveTemplate(em: EntityManager, principal: Principal, input: { workspaceId?: string; id?: string; name: string; body: string }): Promise<Template> {
    const name = checkName(input.name, 'name', 100);
    const body = optionalText(input.body, 'body');
    if (!body) throw badInput('The template is empty', { field: 'body' });
    return em.transactional(async (tx) => {
      let template: Template;
      if (input.id) {
        const found = await tx.findOne(Template, { id: input.id });
        if (!found) throw notFound('Template');
        template = found;
      } else {
        template = tx.create(Template, { ...this.base(tx, principal, input.workspaceId!), name, body });
      }
      const clash = await tx.findOne(Template, { workspace: template.workspaceId, name, id: { $ne: template.id } });
      if (clash) throw new DomainError(ErrorCode.CONFLICT, 'A template with this name exists', { field: 'name' });
      const before = input.id ? { name: template.name, body: template.body } : null;
      template.name = name;
      template.body = body;
      audit(tx, actorOf(principal), { action: input.id ? 'template.update' : 'template.create', targetType: 'Template', targetId: template.id, workspaceId: template.workspaceId, before, after: { name, body } });
      return template;
    });
  }

  async deleteTemplate(em: EntityManager, principal: Principal, id: string): Promise<boolean> {
    return em.transactional(async (tx) => {
      const t = await tx.findOne(Template, { id });
      if (!t) throw notFound('Template');
      audit(tx, actorOf(principal), { action: 'template.delete', targetType: 'Template', targetId: id, workspaceId: t.workspaceId, before: { name: t.name } });
      tx.remove(t);
      return true;
    });
  }

  // --- settings
  async settingsOf(em: EntityManager, principal: Principal, workspaceId: string): Promise<WorkspaceSettings> {
    const found = await em.findOne(WorkspaceSettings, { workspace: workspaceId });
    return found ?? em.create(WorkspaceSettings, { ...this.base(em, principal, workspaceId) }, { persist: false });
  }

  private async updateSettings(em: EntityManager, principal: Principal, workspaceId: string, action: string, apply: (s: WorkspaceSettings) => void): Promise<WorkspaceSettings> {
    return em.transactional(async (tx) => {
      let s = await tx.findOne(WorkspaceSettings, { workspace: workspaceId });
      s ??= tx.create(WorkspaceSettings, { ...this.base(tx, principal, workspaceId) });
      const before = { timeZone: s.timeZone, weeklyHours: s.weeklyHours, autoResponse: s.autoResponse, greeting: s.greeting, optOutReply: s.optOutReply, optInReply: s.optInReply };
      apply(s);
      const after = { timeZone: s.timeZone, weeklyHours: s.weeklyHours, autoResponse: s.autoResponse, greeting: s.greeting, optOutReply: s.optOutReply, optInReply: s.optInReply };
      audit(tx, actorOf(principal), { action, targetType: 'Workspace', targetId: workspaceId, workspaceId, before, after });
      return s;
    });
  }

  setOfficeHours(em: EntityManager, principal: Principal, workspaceId: string, timeZone: string, weeklyHours: unknown | null): Promise<WorkspaceSettings> {
    const tz = validateTimeZone(timeZone);
    // Omitted (undefined) and null alike mean "always open", as the SDL says.
    const hours: WeeklyHours | null = weeklyHours === null || weeklyHours === undefined ? null : validateWeeklyHours(weeklyHours);
    return this.updateSettings(em, principal, workspaceId, 'settings.officeHours', (s) => {
      s.timeZone = tz;
      s.weeklyHours = hours;
    });
  }

  setAutoResponses(
    em: EntityManager,
    principal: Principal,
    workspaceId: string,
    input: { autoResponse?: string | null; greeting?: string | null; optOutReply?: string | null; optInReply?: string | null },
  ): Promise<WorkspaceSettings> {
    return this.updateSettings(em, principal, workspaceId, 'settings.autoResponses', (s) => {
      if (input.autoResponse !== undefined) s.autoResponse = optionalText(input.autoResponse, 'autoResponse');
      if (input.greeting !== undefined) s.greeting = optionalText(input.greeting, 'greeting');
      if (input.optOutReply !== undefined) s.optOutReply = optionalText(input.optOutReply, 'optOutReply');
      if (input.optInReply !== undefined) s.optInReply = optionalText(input.optInReply, 'optInReply');
    });
  }

  /** A new signing secret for POST /webhooks/inbound; the old one stops working at once. Shown once. */
  async rotateWebhookSecret(em: EntityManager, principal: Principal, workspaceId: string): Promise<string> {
    const secret = `whsec_${randomBytes(24).toString('base64url')}`;
    await this.updateSettings(em, principal, workspaceId, 'settings.webhookSecret', (s) => {
      s.webhookSecret = secret;
    });
    return secret;
  }

  // --- keyword rules
  private phrases(list: string[]): string[] {
    const out = [...new Set(list.map((p) => p.trim()).filter(Boolean))];
    if (!out.length || out.length > 100 || out.some((p) => p.length > 200)) throw badInput('1 to 100 phrases of at most 200 characters', { field: 'phrases' });
    return out;
  }

  async saveKeywordRule(em: EntityManager, principal: Principal, input: { workspaceId?: string; id?: string; name: string; phrases: string[]; active?: boolean | null }): Promise<KeywordRule> {
    const name = checkName(input.name, 'name', 100);
    const phrases = this.phrases(input.phrases);
    return em.transactional(async (tx) => {
      let rule: KeywordRule;
      if (input.id) {
        const found = await tx.findOne(KeywordRule, { id: input.id });
        if (!found) throw notFound('Keyword rule');
        rule = found;
      } else {
        rule = tx.create(KeywordRule, { ...this.base(tx, principal, input.workspaceId!), name, phrases, createdById: principal.userId });
      }
      const before = input.id ? { name: rule.name, phrases: rule.phrases, active: rule.active } : null;
      rule.name = name;
      rule.phrases = phrases;
      if (input.active !== undefined && input.active !== null) rule.active = input.active;
      audit(tx, actorOf(principal), { action: input.id ? 'keywordRule.update' : 'keywordRule.create', targetType: 'KeywordRule', targetId: rule.id, workspaceId: rule.workspaceId, before, after: { name, phrases, active: rule.active } });
      return rule;
    });
  }

  async deleteKeywordRule(em: EntityManager, principal: Principal, id: string): Promise<boolean> {
    return em.transactional(async (tx) => {
      const rule = await tx.findOne(KeywordRule, { id });
      if (!rule) throw notFound('Keyword rule');
      audit(tx, actorOf(principal), { action: 'keywordRule.delete', targetType: 'KeywordRule', targetId: id, workspaceId: rule.workspaceId, before: { name: rule.name, phrases: rule.phrases } });
      tx.remove(rule);
      return true;
    });
  }

  async alerts(em: EntityManager, workspaceId: string, args: { first?: number | null; after?: string | null }): Promise<Connection<KeywordAlert>> {
    const size = pageSize(args.first);
    const after = decodeCursor(args.after, 2) as [string, string] | null;
    const where: Record<string, unknown> = { workspace: workspaceId };
    if (after) where.$or = [{ createdAt: { $lt: new Date(after[0]) } }, { createdAt: new Date(after[0]), id: { $lt: after[1] } }];
    const rows = await em.find(KeywordAlert, where, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: size + 1 });
    return toConnection(rows, size, (a) => [a.createdAt.toISOString(), a.id]);
  }
}
