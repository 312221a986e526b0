import { randomBytes } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { CROSS_TENANT, TENANT_FILTER } from '../tenant';
import { Organization, Workspace } from '../../modules/identity/organization.entity';
import { Membership, User, UserStatus } from '../../modules/identity/user.entity';
import { Role } from '../../modules/identity/permissions';
import { hashPassword } from '../../modules/identity/secrets';
import type { Logger } from '../../observability/logger';
import type { Services } from '../../services';
import { AgentGroup, AgentGroupMember } from '../../modules/identity/team.entity';
import { Contact } from '../../modules/inbox/contact.entity';
import { KeywordRule, Tag, Template, ThreadTag } from '../../modules/inbox/catalogue.entity';
import { DeliveryStatus, Message, MessageDirection, Thread } from '../../modules/inbox/thread.entity';

export const DEMO_EMAIL_DOMAIN = 'demo.switchboard.test';

export interface DemoAccount {
  role: Role;
  email: string;
  workspace: string | null;
}

/** One user per role preset; the owner and admin hold the organization, the rest the North workspace. */
const DEMO_USERS: Array<{ role: Role; name: string; orgWide: boolean }> = [
  { role: Role.OWNER, name: 'Olivia Owner', orgWide: true },
  { role: Role.ADMIN, name: 'Adam Admin', orgWide: true },
  { role: Role.SUPERVISOR, name: 'Sofia Supervisor', orgWide: false },
  { role: Role.AGENT, name: 'Arturo Agent', orgWide: false },
  { role: Role.AUDITOR, name: 'Audrey Auditor', orgWide: false },
  { role: Role.MARKETER, name: 'Marcus Marketer', orgWide: false },
  { role: Role.VIEWER, name: 'Vera Viewer', orgWide: false },
  { role: Role.STAKEHOLDER, name: 'Stan Stakeholder', orgWide: false },
  { role: Role.ORDER_ADMIN, name: 'Oscar OrderAdmin', orgWide: false },
];

/**
 * The demo organization for zero-setup runs, loaded once (when the database has no organization yet).
 * Passwords are random per installation and printed once; nothing secret is committed.
 */
export async function seedDemoIfEmpty(orm: MikroORM, _services: Services, logger: Logger): Promise<DemoAccount[] | null> {
  const em = orm.em.fork({ clear: true, useContext: false });
  // Cross-tenant on purpose: the question is whether any tenant exists at all.
  if ((await em.count(Organization, {}, CROSS_TENANT)) > 0) return null;

  const password = randomBytes(9).toString('base64url');
  const passwordHash = await hashPassword(password);
  const accounts: DemoAccount[] = [];
  const users = new Map<Role, User>();
  await em.transactional(async (tx) => {
    const organization = tx.create(Organization, { name: 'Demo Dispatch Co.' });
    tx.setFilterParams(TENANT_FILTER, { organizationId: organization.id });
    const north = tx.create(Workspace, { organization, name: 'North Depot', ancestorIds: [] });
    tx.create(Workspace, { organization, name: 'South Depot', ancestorIds: [] });
    for (const spec of DEMO_USERS) {
      const email = `${spec.role.toLowerCase().replace('_', '-')}@${DEMO_EMAIL_DOMAIN}`;
      const user = tx.create(User, {
        organization,
        name: spec.name,
        email,
        passwordHash,
        status: UserStatus.ACTIVE,
        passwordChangedAt: new Date(),
      });
      tx.create(Membership, { organization, user, workspace: spec.orgWide ? null : north, roles: [spec.role], addOns: [] });
      accounts.push({ role: spec.role, email, workspace: spec.orgWide ? null : north.name });
      users.set(spec.role, user);
    }
    seedInbox(tx, organization, north, users);
  });

  logger.info({ accounts: accounts.length }, 'loaded the demo organization');
  const lines = [
    '',
    'Demo organization "Demo Dispatch Co." loaded (shown once; the password is not stored in clear):',
    ...accounts.map((a) => `  ${a.role.padEnd(12)} ${a.email.padEnd(42)} ${a.workspace ?? '(organization)'}`),
    `  password for every demo account: ${password}`,
    '  log in with: mutation { login(email: "owner@demo.switchboard.test", password: "...") { token } }',
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return accounts;
}

/** A small working inbox: contacts, threads in several states, a team, tags, a template and a keyword rule. */
function seedInbox(tx: import('@mikro-orm/postgresql').EntityManager, organization: Organization, north: Workspace, users: Map<Role, User>): void {
  const agent = users.get(Role.AGENT)!;
  const supervisor = users.get(Role.SUPERVISOR)!;
  const team = tx.create(AgentGroup, { organization, workspace: north, name: 'Dispatch' });
  tx.create(AgentGroupMember, { organization, group: team, user: agent });
  const urgent = tx.create(Tag, { organization, workspace: north, name: 'urgent', color: 'red' });
  tx.create(Tag, { organization, workspace: north, name: 'billing', color: 'blue' });
  tx.create(Template, { organization, workspace: north, name: 'On the way', body: 'Hi {{contact.firstName}}, your technician is on the way.' });
  tx.create(KeywordRule, { organization, workspace: north, name: 'Safety', phrases: ['gas leak', 'fire', 'injury'], createdById: users.get(Role.AUDITOR)!.id });
  const people: Array<[string, string, string]> = [
    ['Maria', 'Gomez', '+15550100001'],
    ['James', 'Lee', '+15550100002'],
    ['Priya', 'Shah', '+15550100003'],
    ['Tom', 'Baker', '+15550100004'],
    ['Aisha', 'Khan', '+15550100005'],
  ];
  const conversations: Array<Array<[MessageDirection, string]>> = [
    [[MessageDirection.INBOUND, 'Hi, my furnace stopped working this morning.'], [MessageDirection.OUTBOUND, 'Sorry to hear that! Can someone be home at 2pm?'], [MessageDirection.INBOUND, 'Yes, 2pm works.']],
    [[MessageDirection.INBOUND, 'Can I get a copy of my last invoice?']],
    [[MessageDirection.OUTBOUND, 'Reminder: your AC tune-up is tomorrow at 9am.'], [MessageDirection.INBOUND, 'Thanks, see you then']],
    [[MessageDirection.INBOUND, 'There is a strange smell near the water heater']],
    [[MessageDirection.INBOUND, 'Do you service heat pumps?']],
  ];
  const start = Date.now() - 3 * 3_600_000;
  people.forEach(([firstName, lastName, phone], i) => {
    const contact = tx.create(Contact, { organization, workspace: north, firstName, lastName, phone });
    const thread = tx.create(Thread, {
      organization,
      workspace: north,
      contact,
      createdAt: new Date(start + i * 10 * 60_000),
      assigneeUser: i === 0 ? agent : i === 2 ? supervisor : null,
      assigneeGroup: i === 1 || i === 3 ? team : null,
    });
    conversations[i]!.forEach(([direction, body], j) => {
      const createdAt = new Date(start + (i * 10 + j) * 60_000);
      tx.create(Message, {
        organization,
        workspace: north,
        thread,
        direction,
        body,
        status: direction === MessageDirection.INBOUND ? DeliveryStatus.RECEIVED : DeliveryStatus.DELIVERED,
        authorId: direction === MessageDirection.OUTBOUND ? supervisor.id : null,
        createdAt,
      });
      thread.lastActivityAt = createdAt;
      thread.lastMessagePreview = body.slice(0, 160);
      if (direction === MessageDirection.INBOUND) {
        thread.lastInboundAt = createdAt;
        thread.needsResponse = true;
      } else {
        thread.needsResponse = false;
        thread.firstResponseAt ??= createdAt;
      }
    });
    if (i === 3) tx.create(ThreadTag, { organization, thread, tag: urgent });
  });
}
