import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootServer, type TestServer } from '../support/server';
import { OrgBuilder, type FixtureUser } from '../support/fixtures';
import { Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';
import { api, codeOf, type Variables } from '../support/api';

const REGISTER = `mutation($w: ID!, $n: String!, $d: String!) { registerPhoneNumber(workspaceId: $w, number: $n, displayName: $d) { id workspaceId number displayName } }`;
const LIST = `query($w: ID!) { phoneNumbers(workspaceId: $w) { id number displayName } }`;
const RENAME = `mutation($w: ID!, $id: ID!, $d: String!) { renamePhoneNumber(workspaceId: $w, id: $id, displayName: $d) { id displayName } }`;
const RELEASE = `mutation($w: ID!, $id: ID!) { releasePhoneNumber(workspaceId: $w, id: $id) }`;
const CREATE_CAMPAIGN = `mutation($w: ID!, $i: CampaignInput!) { createCampaign(workspaceId: $w, input: $i) { id senderNumber senderName status } }`;

describe('phone numbers of a workspace (PHONE_NUMBERS_MANAGE) and the organization settings (ORGANIZATION_SETTINGS_MANAGE)', () => {
  let server: TestServer;
  let org: OrgBuilder;
  let W: Workspace, E: Workspace;
  let owner: FixtureUser, admin: FixtureUser, marketer: FixtureUser, agent: FixtureUser, adminEast: FixtureUser;
  const ok = (u: FixtureUser, q: string, v?: Variables) => api(server).as(u.token).ok<Record<string, any>>(q, v);
  const send = (u: FixtureUser, q: string, v?: Variables) => api(server).as(u.token).send(q, v);

  beforeAll(async () => {
    server = await bootServer({ channel: new SandboxProvider(null), rollups: false });
    org = new OrgBuilder(server.app, 'Numbers Co');
    W = org.workspace('West');
    E = org.workspace('East');
    owner = await org.login(await org.user('Owner', [{ workspace: null, roles: [Role.OWNER] }]));
    admin = await org.login(await org.user('Admin', [{ workspace: W, roles: [Role.ADMIN] }]));
    adminEast = await org.login(await org.user('Admin East', [{ workspace: E, roles: [Role.ADMIN] }]));
    marketer = await org.login(await org.user('Marketer', [{ workspace: W, roles: [Role.MARKETER] }]));
    agent = await org.login(await org.user('Agent', [{ workspace: W, roles: [Role.AGENT] }]));
  }, 120_000);
  afterAll(() => server.close());

  it('admins register numbers (normalised to E.164, one workspace per number), everyone in the workspace lists them', async () => {
    const n = (await ok(admin, REGISTER, { w: W.id, n: '(555) 200-0001', d: ' West Desk ' })).registerPhoneNumber;
    expect(n).toMatchObject({ workspaceId: W.id, number: '+15552000001', displayName: 'West Desk' });
    await ok(admin, REGISTER, { w: W.id, n: '+15552000000', d: 'West Main' });
    // The same number again, here or in another workspace of the organization: CONFLICT, nothing written.
    expect(codeOf(await send(admin, REGISTER, { w: W.id, n: '+1 555 200 0001', d: 'Again' }))).toBe('CONFLICT');
    expect(codeOf(await send(adminEast, REGISTER, { w: E.id, n: '+15552000001', d: 'Theirs' }))).toBe('CONFLICT');
    // Bad input is typed.
    expect(codeOf(await send(admin, REGISTER, { w: W.id, n: 'not a number', d: 'X' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await send(admin, REGISTER, { w: W.id, n: '+15552000009', d: '   ' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await send(admin, REGISTER, { w: W.id, n: '+15552000009', d: 'x'.repeat(101) }))).toBe('BAD_USER_INPUT');
    // Who may: admins and owners; not marketers or agents, and not an admin of another workspace.
    expect(codeOf(await send(marketer, REGISTER, { w: W.id, n: '+15552000002', d: 'M' }))).toBe('FORBIDDEN');
    expect(codeOf(await send(agent, REGISTER, { w: W.id, n: '+15552000002', d: 'A' }))).toBe('FORBIDDEN');
    expect(codeOf(await send(adminEast, REGISTER, { w: W.id, n: '+15552000002', d: 'E' }))).toBe('FORBIDDEN');
    await ok(owner, REGISTER, { w: E.id, n: '+15553000001', d: 'East Desk' });

    const listed = (await ok(agent, LIST, { w: W.id })).phoneNumbers;
    expect(listed.map((p: any) => [p.number, p.displayName])).toEqual([['+15552000000', 'West Main'], ['+15552000001', 'West Desk']]);
    expect((await ok(adminEast, LIST, { w: E.id })).phoneNumbers.map((p: any) => p.number)).toEqual(['+15553000001']);
    expect(codeOf(await send(adminEast, LIST, { w: W.id }))).toBe('FORBIDDEN');
  });

  it('display names are edited by PHONE_NUMBERS_MANAGE in the number\'s own workspace, audited', async () => {
    const [main] = (await ok(admin, LIST, { w: W.id })).phoneNumbers;
    expect((await ok(admin, RENAME, { w: W.id, id: main.id, d: 'West HQ' })).renamePhoneNumber).toEqual({ id: main.id, displayName: 'West HQ' });
    expect(codeOf(await send(marketer, RENAME, { w: W.id, id: main.id, d: 'Nope' }))).toBe('FORBIDDEN');
    // Named through a workspace it does not belong to: not found, whoever asks.
    expect(codeOf(await send(owner, RENAME, { w: E.id, id: main.id, d: 'Moved' }))).toBe('NOT_FOUND');
    const log = (await ok(owner, `query($w: ID!) { auditLog(workspaceId: $w, first: 50) { edges { node { action targetId before after } } } }`, { w: W.id })).auditLog.edges.map((e: any) => e.node);
    expect(log.find((e: any) => e.action === 'phone_number.rename' && e.targetId === main.id)).toMatchObject({ before: { displayName: 'West Main' }, after: { displayName: 'West HQ' } });
    expect(log.filter((e: any) => e.action === 'phone_number.register')).toHaveLength(2);
  });

  it('a campaign sends from a registered number of its workspace, under its display name unless it names itself', async () => {
    const c = (await ok(marketer, CREATE_CAMPAIGN, { w: W.id, i: { name: 'Spring', messageTemplate: 'Hi {{contact.firstName}}', senderNumber: '555-200-0000' } })).createCampaign;
    expect(c).toMatchObject({ senderNumber: '+15552000000', senderName: 'West HQ', status: 'DRAFT' });
    const named = (await ok(marketer, CREATE_CAMPAIGN, { w: W.id, i: { name: 'Named', messageTemplate: 'Hi', senderNumber: '+15552000001', senderName: 'Volunteers' } })).createCampaign;
    expect(named).toMatchObject({ senderNumber: '+15552000001', senderName: 'Volunteers' });
    // A number that is not registered, or registered to another workspace: BAD_USER_INPUT on senderNumber.
    for (const senderNumber of ['+15559999999', '+15553000001', 'garbage']) {
      const r = await send(marketer, CREATE_CAMPAIGN, { w: W.id, i: { name: 'Bad', messageTemplate: 'Hi', senderNumber } });
      expect(codeOf(r), senderNumber).toBe('BAD_USER_INPUT');
      expect(r.errors![0].extensions).toMatchObject({ field: 'senderNumber' });
    }

    // A number in use by a campaign that may still send cannot be released; once it is cancelled it can.
    const [main] = (await ok(admin, LIST, { w: W.id })).phoneNumbers;
    const refused = await send(admin, RELEASE, { w: W.id, id: main.id });
    expect(codeOf(refused)).toBe('CONFLICT');
    expect(refused.errors![0].extensions).toMatchObject({ campaignId: c.id });
    await ok(marketer, `mutation($id: ID!) { cancelCampaign(id: $id) { status } }`, { id: c.id });
    expect((await ok(admin, RELEASE, { w: W.id, id: main.id })).releasePhoneNumber).toBe(true);
    expect((await ok(agent, LIST, { w: W.id })).phoneNumbers.map((p: any) => p.number)).toEqual(['+15552000001']);
    expect(codeOf(await send(admin, RELEASE, { w: W.id, id: main.id }))).toBe('NOT_FOUND');
  });

  it('only organization settings managers (owners) rename the organization; audited; bad names typed', async () => {
    const RENAME_ORG = `mutation($n: String!) { renameOrganization(name: $n) { id name } }`;
    expect(codeOf(await send(admin, RENAME_ORG, { n: 'Hijacked' }))).toBe('FORBIDDEN');
    expect(codeOf(await send(owner, RENAME_ORG, { n: '   ' }))).toBe('BAD_USER_INPUT');
    expect((await ok(owner, RENAME_ORG, { n: 'Numbers & Co' })).renameOrganization).toMatchObject({ id: org.organization.id, name: 'Numbers & Co' });
    expect((await ok(agent, `{ organization { name } }`)).organization.name).toBe('Numbers & Co');
    const log = (await ok(owner, `{ auditLog(first: 50) { edges { node { action before after } } } }`)).auditLog.edges.map((e: any) => e.node);
    expect(log.find((e: any) => e.action === 'organization.rename')).toMatchObject({ before: { name: 'Numbers Co' }, after: { name: 'Numbers & Co' } });
  });
});
