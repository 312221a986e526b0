import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { api, codeOf, type Variables } from '../support/api';

const CREATE_GROUP = `mutation($w: ID!, $n: String!) { createCampaignGroup(workspaceId: $w, name: $n) { id name viewerCan { rename delete addContacts } } }`;
const ADD = `mutation($g: ID!, $i: GroupContactsInput!) { addContactsToCampaignGroup(groupId: $g, input: $i) { changed unchanged createdContacts size rejected { line code reason } } }`;
const REMOVE = `mutation($g: ID!, $i: GroupContactsInput!) { removeContactsFromCampaignGroup(groupId: $g, input: $i) { changed unchanged size rejected { line code } } }`;
const CREATE_CAMPAIGN = `mutation($w: ID!, $i: CampaignInput!) { createCampaign(workspaceId: $w, input: $i) { id status kind viewerCan { edit start pause resume cancel } } }`;
const START = `mutation($id: ID!, $skip: Boolean) { startCampaign(id: $id, skipMissingVariables: $skip) { id status } }`;
const PROGRESS = `query($id: ID!) { campaignProgressNow(id: $id) { total queued skippedOptedOut skippedMissingVariables status } }`;

describe('campaign groups and campaigns', () => {
  let server: TestServer;
  let org: OrgBuilder;
  let W: Workspace;
  let admin: FixtureUser, marketer: FixtureUser, supervisor: FixtureUser, agent: FixtureUser, outsider: FixtureUser;
  const ok = (u: FixtureUser, q: string, v?: Variables) => api(server).as(u.token).ok<Record<string, any>>(q, v);
  const send = (u: FixtureUser, q: string, v?: Variables) => api(server).as(u.token).send(q, v);
  const contact = async (phone: string, extra: Record<string, unknown> = {}) =>
    (await ok(admin, `mutation($w: ID!, $i: ContactInput!) { createContact(workspaceId: $w, input: $i) { id } }`, { w: W.id, i: { phone, ...extra } })).createContact.id as string;

  beforeAll(async () => {
    server = await bootServer();
    org = new OrgBuilder(server.app, 'Campaign Co');
    W = org.workspace('West');
    const other = org.workspace('East');
    admin = await org.login(await org.user('Admin', [{ workspace: W, roles: [Role.ADMIN] }]));
    marketer = await org.login(await org.user('Marketer', [{ workspace: W, roles: [Role.MARKETER] }]));
    supervisor = await org.login(await org.user('Dispatcher', [{ workspace: W, roles: [Role.SUPERVISOR] }]));
    agent = await org.login(await org.user('Agent', [{ workspace: W, roles: [Role.AGENT] }]));
    outsider = await org.login(await org.user('East marketer', [{ workspace: other, roles: [Role.MARKETER] }]));
  });
  afterAll(() => server.close());

  describe('groups', () => {
    it('a marketer creates, renames and deletes a group, with viewerCan saying so', async () => {
      const g = (await ok(marketer, CREATE_GROUP, { w: W.id, n: 'Spring promo' })).createCampaignGroup;
      expect(g.viewerCan).toEqual({ rename: true, delete: true, addContacts: true });
      const renamed = await ok(marketer, `mutation($id: ID!) { renameCampaignGroup(id: $id, name: "Summer promo") { name } }`, { id: g.id });
      expect(renamed.renameCampaignGroup.name).toBe('Summer promo');
      expect(codeOf(await send(marketer, CREATE_GROUP, { w: W.id, n: 'Summer promo' }))).toBe('CONFLICT');
      expect((await ok(marketer, `mutation($id: ID!) { deleteCampaignGroup(id: $id) }`, { id: g.id })).deleteCampaignGroup).toBe(true);
      expect(codeOf(await send(marketer, `query($id: ID!) { campaignGroup(id: $id) { id } }`, { id: g.id }))).toBe('NOT_FOUND');
    });

    it('a dispatcher adds contacts to a group but cannot create or delete groups; an agent can do neither', async () => {
      const g = (await ok(admin, CREATE_GROUP, { w: W.id, n: 'Dispatch list' })).createCampaignGroup;
      const c = await contact('+15553000001');
      expect((await ok(supervisor, ADD, { g: g.id, i: { contactIds: [c] } })).addContactsToCampaignGroup.changed).toBe(1);
      expect(codeOf(await send(supervisor, CREATE_GROUP, { w: W.id, n: 'Nope' }))).toBe('FORBIDDEN');
      expect(codeOf(await send(supervisor, `mutation($id: ID!) { deleteCampaignGroup(id: $id) }`, { id: g.id }))).toBe('FORBIDDEN');
      expect(codeOf(await send(agent, ADD, { g: g.id, i: { contactIds: [c] } }))).toBe('FORBIDDEN');
    });

    it('a marketer of another workspace cannot see or change the group', async () => {
      const g = (await ok(admin, CREATE_GROUP, { w: W.id, n: 'Private' })).createCampaignGroup;
      expect(codeOf(await send(outsider, `mutation($id: ID!) { renameCampaignGroup(id: $id, name: "x") { id } }`, { id: g.id }))).toBe('FORBIDDEN');
    });

    it('adds by ids, reporting unknown ids per position, and counts contacts already in the group', async () => {
      const g = (await ok(marketer, CREATE_GROUP, { w: W.id, n: 'By ids' })).createCampaignGroup;
      const a = await contact('+15553000101');
      const b = await contact('+15553000102');
      const r = (await ok(marketer, ADD, { g: g.id, i: { contactIds: [a, '00000000-0000-4000-8000-000000000000', b] } })).addContactsToCampaignGroup;
      expect(r).toMatchObject({ changed: 2, unchanged: 0, size: 2, rejected: [{ line: 2, code: 'UNKNOWN_CONTACT' }] });
      expect((await ok(marketer, ADD, { g: g.id, i: { contactIds: [a] } })).addContactsToCampaignGroup).toMatchObject({ changed: 0, unchanged: 1, size: 2 });
      const removed = (await ok(marketer, REMOVE, { g: g.id, i: { contactIds: [a] } })).removeContactsFromCampaignGroup;
      expect(removed).toMatchObject({ changed: 1, size: 1 });
    });

    it('adds by a contact filter (custom field equal to a value)', async () => {
      const g = (await ok(marketer, CREATE_GROUP, { w: W.id, n: 'District 9' })).createCampaignGroup;
      await contact('+15553000201', { customFields: { district: '9' } });
      await contact('+15553000202', { customFields: { district: '9' } });
      await contact('+15553000203', { customFields: { district: '4' } });
      const r = (await ok(marketer, ADD, { g: g.id, i: { filter: { customField: 'district', customValue: '9' } } })).addContactsToCampaignGroup;
      expect(r).toMatchObject({ changed: 2, size: 2 });
    });

    it('builds a group from CSV: creates new contacts, reuses known ones, reports each bad row with a code', async () => {
      const g = (await ok(marketer, CREATE_GROUP, { w: W.id, n: 'From CSV' })).createCampaignGroup;
      await contact('+15553000301');
      const csv = 'phone,firstName,district\n+15553000301,Known,1\n555-300-0302,Newbie,2\nnot-a-phone,Bad,3\n,Empty,4\n5553000302,Dup,5\n';
      const r = (await ok(marketer, ADD, { g: g.id, i: { csv } })).addContactsToCampaignGroup;
      expect(r.changed).toBe(2);
      expect(r.createdContacts).toBe(1);
      expect(r.rejected.map((x: any) => [x.line, x.code])).toEqual([[4, 'INVALID_PHONE'], [5, 'MISSING_PHONE'], [6, 'DUPLICATE_ROW']]);
      expect(codeOf(await send(marketer, ADD, { g: g.id, i: { csv: 'name\nx\n' } }))).toBe('BAD_USER_INPUT');
      expect(codeOf(await send(marketer, ADD, { g: g.id, i: { csv: 'phone\n+15553000399\n', contactIds: [] } }))).toBe('BAD_USER_INPUT');
    });

    it('pages members with a keyset cursor and reports the size', async () => {
      const g = (await ok(marketer, CREATE_GROUP, { w: W.id, n: 'Paged' })).createCampaignGroup;
      const csv = 'phone\n' + Array.from({ length: 5 }, (_, i) => `+1555300040${i}`).join('\n');
      await ok(marketer, ADD, { g: g.id, i: { csv } });
      const PAGE = `query($id: ID!, $after: String) { campaignGroup(id: $id) { size members(first: 2, after: $after) { edges { node { contact { phone } } } pageInfo { hasNextPage endCursor } } } }`;
      const phones: string[] = [];
      let after: string | null = null;
      for (;;) {
        const page: any = (await ok(marketer, PAGE, { id: g.id, after })).campaignGroup;
        expect(page.size).toBe(5);
        phones.push(...page.members.edges.map((e: any) => e.node.contact.phone));
        if (!page.members.pageInfo.hasNextPage) break;
        after = page.members.pageInfo.endCursor;
      }
      expect(new Set(phones).size).toBe(5);
    });
  });

  describe('campaigns', () => {
    let groupId: string;
    beforeAll(async () => {
      groupId = (await ok(marketer, CREATE_GROUP, { w: W.id, n: 'Voters' })).createCampaignGroup.id;
      const ids = [
        await contact('+15553100001', { firstName: 'Ana', customFields: { district: '3' } }),
        await contact('+15553100002', { firstName: 'Bo', customFields: { district: '5' } }),
        await contact('+15553100003', { firstName: 'Cy' }), // no district
        await contact('+15553100004', { firstName: 'Di', customFields: { district: '1' } }), // opted out below
      ];
      await ok(marketer, ADD, { g: groupId, i: { contactIds: ids } });
      await ok(admin, `mutation($w: ID!) { optOut(input: { workspaceId: $w, address: "+15553100004" }) { id } }`, { w: W.id });
    });
    const draft = async (name: string, template = 'Hi {{contact.firstName}}, district {{custom.district}} votes Tuesday') =>
      (await ok(marketer, CREATE_CAMPAIGN, { w: W.id, i: { name, messageTemplate: template, targetGroupIds: [groupId], senderName: 'Campaign HQ', quietHoursStart: '21:00', quietHoursEnd: '08:00' } })).createCampaign;

    it('a marketer composes a campaign; a dispatcher may not', async () => {
      const c = await draft('Composed');
      expect(c).toMatchObject({ status: 'DRAFT', kind: 'BROADCAST', viewerCan: { edit: true, start: true, pause: false, resume: false, cancel: true } });
      expect(codeOf(await send(supervisor, CREATE_CAMPAIGN, { w: W.id, i: { name: 'x', messageTemplate: 'y', targetGroupIds: [groupId] } }))).toBe('FORBIDDEN');
      const upd = await ok(marketer, `mutation($id: ID!) { updateCampaign(id: $id, input: { description: "GOTV", responseScripts: [{ name: "Thanks", body: "Thank you!" }] }) { description responseScripts { name body } } }`, { id: c.id });
      expect(upd.updateCampaign).toEqual({ description: 'GOTV', responseScripts: [{ name: 'Thanks', body: 'Thank you!' }] });
    });

    it('refuses an unknown template variable and bad quiet hours with BAD_USER_INPUT', async () => {
      expect(codeOf(await send(marketer, CREATE_CAMPAIGN, { w: W.id, i: { name: 'Bad', messageTemplate: 'Hi {{contact.shoeSize}}', targetGroupIds: [groupId] } }))).toBe('BAD_USER_INPUT');
      expect(codeOf(await send(marketer, CREATE_CAMPAIGN, { w: W.id, i: { name: 'Bad', messageTemplate: 'Hi', targetGroupIds: [groupId], quietHoursStart: '25:00', quietHoursEnd: '08:00' } }))).toBe('BAD_USER_INPUT');
    });

    it('reports per contact the variables it lacks before start', async () => {
      const c = await draft('Preflight');
      const p = (await ok(marketer, `query($id: ID!) { campaignPreflight(id: $id) { recipients optedOut variables missingVariablesCount missingVariables { missing } } }`, { id: c.id })).campaignPreflight;
      expect(p).toMatchObject({ recipients: 4, optedOut: 1, variables: ['contact.firstName', 'custom.district'], missingVariablesCount: 1, missingVariables: [{ missing: ['custom.district'] }] });
    });

    it('refuses to start while a contact lacks a variable, unless told to skip such contacts', async () => {
      const c = await draft('Gaps');
      expect(codeOf(await send(marketer, START, { id: c.id }))).toBe('BAD_USER_INPUT');
      expect((await ok(marketer, `query($id: ID!) { campaign(id: $id) { status } }`, { id: c.id })).campaign.status).toBe('DRAFT');
    });

    it('starting materialises recipients once, deduplicated by phone, opted-out and incomplete ones skipped and counted', async () => {
      const c = await draft('Materialised');
      // The contact filter reaches two of the same people again: each phone counts once.
      await ok(marketer, `mutation($id: ID!) { updateCampaign(id: $id, input: { contactFilter: { customField: "district", customValue: "3" } }) { id } }`, { id: c.id });
      expect((await ok(marketer, START, { id: c.id, skip: true })).startCampaign.status).toBe('RUNNING');
      const p = (await ok(marketer, PROGRESS, { id: c.id })).campaignProgressNow;
      expect(p).toMatchObject({ total: 4, skippedOptedOut: 1, skippedMissingVariables: 1 });
    });

    it('moves only along the status machine: illegal transitions are CONFLICT and change nothing', async () => {
      const c = await draft('Machine', 'Hello {{contact.firstName}}');
      expect(codeOf(await send(marketer, `mutation($id: ID!) { resumeCampaign(id: $id) { id } }`, { id: c.id }))).toBe('CONFLICT');
      expect(codeOf(await send(marketer, `mutation($id: ID!) { pauseCampaign(id: $id) { id } }`, { id: c.id }))).toBe('CONFLICT');
      expect(codeOf(await send(marketer, `mutation($id: ID!) { scheduleCampaign(id: $id) { id } }`, { id: c.id }))).toBe('BAD_USER_INPUT');
      await ok(marketer, `mutation($id: ID!, $at: DateTimeISO!) { updateCampaign(id: $id, input: { startAt: $at }) { id } }`, { id: c.id, at: new Date(Date.now() + 86_400_000).toISOString() });
      expect((await ok(marketer, `mutation($id: ID!) { scheduleCampaign(id: $id) { status } }`, { id: c.id })).scheduleCampaign.status).toBe('SCHEDULED');
      expect((await ok(marketer, `mutation($id: ID!) { cancelCampaign(id: $id) { status viewerCan { edit start cancel } } }`, { id: c.id })).cancelCampaign).toEqual({ status: 'CANCELLED', viewerCan: { edit: false, start: false, cancel: false } });
      expect(codeOf(await send(marketer, START, { id: c.id }))).toBe('CONFLICT');
      expect(codeOf(await send(marketer, `mutation($id: ID!) { updateCampaign(id: $id, input: { name: "late" }) { id } }`, { id: c.id }))).toBe('CONFLICT');
    });

    it('start, pause and resume need CAMPAIGNS_START: a dispatcher sees the campaign but cannot start it', async () => {
      const c = await draft('Guarded', 'Hello {{contact.firstName}}');
      expect((await ok(supervisor, `query($id: ID!) { campaign(id: $id) { name viewerCan { start edit } } }`, { id: c.id })).campaign).toEqual({ name: 'Guarded', viewerCan: { start: false, edit: false } });
      expect(codeOf(await send(supervisor, START, { id: c.id }))).toBe('FORBIDDEN');
    });
  });
});
