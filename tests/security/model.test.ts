import { afterAll, beforeAll, describe, it } from 'vitest';
import fc from 'fast-check';
import { execute, parse, validate, type DocumentNode, type GraphQLSchema } from 'graphql';
import pino from 'pino';
import { randomUUID } from 'node:crypto';
import { bootServer, type TestServer } from '../support/server';
import { FIXTURE_PASSWORD } from '../support/fixtures';
import { buildSchema } from '../../server/src/graphql/schema';
import { buildContext } from '../../server/src/http/request-context';
import type { Principal } from '../../server/src/modules/identity/principal';
import { DomainError, ErrorCode } from '../../server/src/shared/errors';
import { AddOn, Permission, Role, permissionsOf } from '../../server/src/modules/identity/permissions';
import { hashPassword, hashToken, newToken } from '../../server/src/modules/identity/secrets';
import { UserStatus } from '../../server/src/modules/identity/user.entity';

/**
 * Model-based test of the team and assignment rules: random sequences of invite / accept / revoke / resend /
 * updateMembership / deactivate / reactivate / assign / transfer / takeNextThread across TWO organizations,
 * run against the real schema (every @auth check, every service) and a small in-memory model of the rules.
 *
 * The model predicts the state; what the server answers decides which transition happened. After every
 * command: a transition the server allowed must be allowed by the rules (nobody grants what they lack, only
 * owners touch owners, the last owner stays, nothing reaches across organizations), a refused one changes
 * nothing, and the database of BOTH organizations equals the model (users, memberships, invitations, thread
 * assignees: one per thread, of the same organization). Invitations and takeNextThread are predicted exactly.
 *
 * MODEL_RUNS (default 1000), MODEL_SEED and MODEL_WORKERS (independent streams, default 4) reproduce a run;
 * the figures and the seed are printed (the per-part times are summed over the streams).
 */

const RUNS = Number(process.env.MODEL_RUNS ?? 1000);
const SEED = Number(process.env.MODEL_SEED ?? Math.floor(Math.random() * 2 ** 31));
const MAX_COMMANDS = Number(process.env.MODEL_MAX_COMMANDS ?? 8);
const WORKERS = Number(process.env.MODEL_WORKERS ?? 4);
const INVITE_ROLES = [Role.OWNER, Role.ADMIN, Role.SUPERVISOR, Role.AGENT, Role.VIEWER] as const;
const GRANT_ROLES = [Role.OWNER, Role.ADMIN, Role.SUPERVISOR, Role.AGENT, Role.VIEWER, null] as const;
const ERROR_CODES = new Set<string>(Object.values(ErrorCode).filter((c) => c !== ErrorCode.INTERNAL));

type Level = string | null;
interface Grant {
  roles: Role[];
  addOns: AddOn[];
}
interface MUser {
  id: string;
  org: number;
  email: string;
  status: UserStatus;
  hasPassword: boolean;
  grants: Map<Level, Grant>;
  token: string | null;
}
interface MInvitation {
  id: string;
  org: number;
  userId: string;
  email: string;
  level: Level;
  roles: Role[];
  token: string;
  state: 'PENDING' | 'ACCEPTED' | 'REVOKED';
}
interface MThread {
  id: string;
  org: number;
  workspaceId: string;
  assignee: string | null;
  order: number;
}
interface MOrg {
  id: string;
  W: string;
  W2: string;
}
interface Model {
  pair: number;
  orgs: MOrg[];
  users: MUser[];
  invitations: MInvitation[];
  threads: MThread[];
}
interface Real {
  call(token: string | null, query: string, variables?: Record<string, unknown>): Promise<{ data: any; code: string | null }>;
  snapshot(): Promise<Snapshot>;
}
interface Snapshot {
  users: Array<[string, string, boolean]>;
  memberships: Array<[string, string | null, string[], string[]]>;
  invitations: Array<[string, boolean, boolean]>;
  threads: Array<[string, string, string | null]>;
  owners: Array<[string, number]>;
}

// ------------------------------------------------------------------ the rules, as the model knows them

function held(u: MUser, level: Level): Set<Permission> {
  const out = new Set<Permission>();
  const add = (g: Grant | undefined) => g && permissionsOf(g.roles, g.addOns).forEach((p) => out.add(p));
  add(u.grants.get(null));
  if (level !== null) add(u.grants.get(level)); // W and W2 are roots: no ancestors
  return out;
}
const orgWide = (u: MUser) => held(u, null);
const subset = (a: Set<Permission>, b: Set<Permission>) => [...a].every((p) => b.has(p));
const isOwner = (u: MUser) => [...u.grants.values()].some((g) => g.roles.includes(Role.OWNER));
const activeOwners = (m: Model, org: number) => m.users.filter((u) => u.org === org && u.status === UserStatus.ACTIVE && isOwner(u));

/** Giving a grant at a level: the permission to give there, OWNER only organization-wide and by owners, nothing one lacks. */
function mayGrant(actor: MUser, permission: Permission, level: Level, roles: Role[], addOns: AddOn[] = []): boolean {
  const h = held(actor, level);
  if (!h.has(permission)) return false;
  if (roles.includes(Role.OWNER) && (level !== null || !orgWide(actor).has(Permission.OWNERS_MANAGE))) return false;
  return subset(permissionsOf(roles, addOns), h);
}
/** Changing an existing grant: USERS_MANAGE there and the grant no wider than one's own; owners' grants need OWNERS_MANAGE. */
function mayChange(actor: MUser, level: Level, existing: Grant): boolean {
  const h = held(actor, level);
  if (!h.has(Permission.USERS_MANAGE)) return false;
  if (existing.roles.includes(Role.OWNER)) return orgWide(actor).has(Permission.OWNERS_MANAGE);
  return subset(permissionsOf(existing.roles, existing.addOns), h);
}
/** Managing a user at all: organization-wide, or where they already hold a grant or a pending invitation (never a sibling's people). */
const managesSomewhere = (m: Model, actor: MUser, target: MUser) =>
  orgWide(actor).has(Permission.USERS_MANAGE) ||
  [...target.grants.keys()].some((level) => level === null || held(actor, level).has(Permission.USERS_MANAGE)) ||
  m.invitations.some((i) => i.userId === target.id && i.state === 'PENDING' && (i.level === null || held(actor, i.level).has(Permission.USERS_MANAGE)));
const reaches = (u: MUser, workspaceId: string) => u.grants.has(null) || u.grants.has(workspaceId);
const mayRead = (u: MUser, t: MThread) =>
  held(u, t.workspaceId).has(Permission.THREADS_READ_ALL) || (held(u, t.workspaceId).has(Permission.THREADS_READ) && t.assignee === u.id);

function levelOf(o: MOrg, kind: number): Level {
  return kind === 0 ? null : kind === 1 ? o.W : o.W2;
}
const actorOf = (m: Model, org: number, idx: number): MUser => {
  const mine = m.users.filter((u) => u.org === org);
  return mine[idx % mine.length]!;
};
const anyUser = (m: Model, idx: number): MUser => m.users[idx % m.users.length]!;
const email = (m: Model, idx: number) => `invitee${idx}-p${m.pair}-${RUN_ID}@model.test`;
const RUN_ID = Math.random().toString(36).slice(2, 8);

function fail(message: string): never {
  throw new Error(message);
}
function refusedCleanly(code: string | null, what: string): void {
  if (code !== null && !ERROR_CODES.has(code)) fail(`${what}: answered ${code}, not one of the ErrorCode values`);
}

// ------------------------------------------------------------------ commands

abstract class Cmd implements fc.AsyncCommand<Model, Real, boolean> {
  check(): boolean {
    return true;
  }
  abstract run(m: Model, r: Real): Promise<void>;
  abstract toString(): string;
}

class Invite extends Cmd {
  constructor(readonly org: number, readonly actor: number, readonly mail: number, readonly levelKind: number, readonly role: Role) {
    super();
  }
  async run(m: Model, r: Real): Promise<void> {
    const actor = actorOf(m, this.org, this.actor);
    const level = levelOf(m.orgs[this.org]!, this.levelKind);
    const address = email(m, this.mail);
    const res = await r.call(actor.token, `mutation($i: InviteUserInput!) { inviteUser(input: $i) { acceptToken invitation { id userId } } }`, {
      i: { email: address, roles: [this.role], workspaceId: level },
    });
    refusedCleanly(res.code, this.toString());
    const existing = m.users.find((u) => u.org === this.org && u.email === address);
    const allowed =
      actor.token !== null &&
      actor.status === UserStatus.ACTIVE &&
      mayGrant(actor, Permission.USERS_INVITE, level, [this.role]) &&
      existing?.status !== UserStatus.ACTIVE &&
      !(existing?.status === UserStatus.DEACTIVATED && existing.hasPassword) &&
      !m.invitations.some((i) => i.org === this.org && i.email === address && i.state === 'PENDING');
    if (allowed !== (res.code === null)) fail(`${this}: the rules say ${allowed ? 'allowed' : 'refused'}, the server ${res.code ?? 'allowed'}`);
    if (res.code) return;
    const { acceptToken, invitation } = res.data.inviteUser;
    let user = existing;
    if (!user) m.users.push((user = { id: invitation.userId, org: this.org, email: address, status: UserStatus.INVITED, hasPassword: false, grants: new Map(), token: null }));
    if (user.id !== invitation.userId) fail(`${this}: invited a different user row`);
    user.status = UserStatus.INVITED;
    m.invitations.push({ id: invitation.id, org: this.org, userId: user.id, email: address, level, roles: [this.role], token: acceptToken, state: 'PENDING' });
  }
  toString() {
    return `invite(org${this.org}, actor ${this.actor}, invitee${this.mail}, level ${this.levelKind}, ${this.role})`;
  }
}

class Accept extends Cmd {
  constructor(readonly inv: number) {
    super();
  }
  async run(m: Model, r: Real): Promise<void> {
    if (!m.invitations.length) return;
    const inv = m.invitations[this.inv % m.invitations.length]!;
    const res = await r.call(null, `mutation($t: String!) { acceptInvitation(token: $t, name: "Invitee", password: "${FIXTURE_PASSWORD}") { token user { id } } }`, { t: inv.token });
    refusedCleanly(res.code, this.toString());
    // One login per address across the service: a second organization's invitee is told at acceptance.
    const loginTaken = m.users.some((u) => u.email === inv.email && u.hasPassword);
    const allowed = inv.state === 'PENDING' && !loginTaken;
    if (allowed !== (res.code === null)) fail(`${this}: the rules say ${allowed ? 'allowed' : 'refused'}, the server ${res.code ?? 'allowed'}`);
    if (res.code) return;
    const user = m.users.find((u) => u.id === inv.userId)!;
    user.status = UserStatus.ACTIVE;
    user.hasPassword = true;
    user.token = res.data.acceptInvitation.token;
    const g = user.grants.get(inv.level);
    user.grants.set(inv.level, g ? { roles: [...new Set([...g.roles, ...inv.roles])], addOns: g.addOns } : { roles: [...inv.roles], addOns: [] });
    inv.state = 'ACCEPTED';
  }
  toString() {
    return `accept(invitation ${this.inv})`;
  }
}

class RevokeOrResend extends Cmd {
  constructor(readonly org: number, readonly actor: number, readonly inv: number, readonly resend: boolean) {
    super();
  }
  async run(m: Model, r: Real): Promise<void> {
    if (!m.invitations.length) return;
    const actor = actorOf(m, this.org, this.actor);
    const inv = m.invitations[this.inv % m.invitations.length]!;
    const res = this.resend
      ? await r.call(actor.token, `mutation($id: ID!) { resendInvitation(id: $id) { acceptToken } }`, { id: inv.id })
      : await r.call(actor.token, `mutation($id: ID!) { revokeInvitation(id: $id) { id } }`, { id: inv.id });
    refusedCleanly(res.code, this.toString());
    if (res.code) return;
    const ok = inv.org === this.org && actor.status === UserStatus.ACTIVE && mayGrant(actor, Permission.USERS_INVITE, inv.level, inv.roles) && (this.resend ? inv.state === 'PENDING' : inv.state !== 'ACCEPTED');
    if (!ok) fail(`${this}: allowed against the rules (${inv.org === this.org ? 'may not give this grant' : 'another organization'})`);
    if (this.resend) inv.token = res.data.resendInvitation.acceptToken;
    else if (inv.state === 'PENDING') {
      inv.state = 'REVOKED';
      const user = m.users.find((u) => u.id === inv.userId)!;
      if (user.status === UserStatus.INVITED) user.status = UserStatus.DEACTIVATED;
    }
  }
  toString() {
    return `${this.resend ? 'resend' : 'revoke'}(org${this.org}, actor ${this.actor}, invitation ${this.inv})`;
  }
}

class UpdateMembership extends Cmd {
  constructor(readonly org: number, readonly actor: number, readonly target: number, readonly levelKind: number, readonly role: Role | null) {
    super();
  }
  async run(m: Model, r: Real): Promise<void> {
    const actor = actorOf(m, this.org, this.actor);
    const target = anyUser(m, this.target);
    const level = levelOf(m.orgs[this.org]!, this.levelKind);
    const roles = this.role ? [this.role] : [];
    const res = await r.call(actor.token, `mutation($i: UpdateMembershipInput!) { updateMembership(input: $i) { id } }`, { i: { userId: target.id, workspaceId: level, roles } });
    refusedCleanly(res.code, this.toString());
    if (res.code) return;
    const existing = target.grants.get(level);
    const why =
      target.org !== this.org ? 'another organization'
      : actor.status !== UserStatus.ACTIVE ? 'inactive actor'
      : !held(actor, level).has(Permission.USERS_MANAGE) ? 'no USERS_MANAGE there'
      : !managesSomewhere(m, actor, target) ? 'pulled in someone the actor manages nowhere'
      : existing && !mayChange(actor, level, existing) ? 'changed a grant wider than the actor'
      : roles.length && !mayGrant(actor, Permission.USERS_MANAGE, level, roles) ? 'granted what the actor lacks'
      : !roles.length && !existing ? 'removed nothing'
      : existing?.roles.includes(Role.OWNER) && !roles.includes(Role.OWNER) && activeOwners(m, this.org).filter((u) => u.id !== target.id).length < 1 ? 'removed the last owner'
      : null;
    if (why) fail(`${this}: allowed against the rules: ${why}`);
    if (roles.length) target.grants.set(level, { roles, addOns: [] });
    else target.grants.delete(level);
  }
  toString() {
    return `updateMembership(org${this.org}, actor ${this.actor}, user ${this.target}, level ${this.levelKind}, ${this.role ?? 'remove'})`;
  }
}

class Deactivation extends Cmd {
  constructor(readonly org: number, readonly actor: number, readonly target: number, readonly reactivate: boolean) {
    super();
  }
  async run(m: Model, r: Real): Promise<void> {
    const actor = actorOf(m, this.org, this.actor);
    const target = anyUser(m, this.target);
    const field = this.reactivate ? 'reactivateUser' : 'deactivateUser';
    const res = await r.call(actor.token, `mutation($u: ID!) { ${field}(userId: $u) { id status } }`, { u: target.id });
    refusedCleanly(res.code, this.toString());
    if (res.code) return;
    const levels = [...target.grants.entries()];
    const why =
      target.org !== this.org ? 'another organization'
      : actor.status !== UserStatus.ACTIVE ? 'inactive actor'
      : levels.some(([level, g]) => !mayChange(actor, level, g)) ? 'the target holds what the actor may not change'
      : !levels.length && !orgWide(actor).has(Permission.USERS_MANAGE) ? 'no organization-wide USERS_MANAGE'
      : !this.reactivate && target.status !== UserStatus.DEACTIVATED && isOwner(target) && activeOwners(m, this.org).filter((u) => u.id !== target.id).length < 1 ? 'deactivated the last owner'
      : this.reactivate && target.status !== UserStatus.ACTIVE && !target.hasPassword ? 'reactivated someone who never joined'
      : null;
    if (why) fail(`${this}: allowed against the rules: ${why}`);
    if (this.reactivate) {
      if (target.status === UserStatus.DEACTIVATED) target.status = UserStatus.ACTIVE;
    } else if (target.status !== UserStatus.DEACTIVATED) {
      target.status = UserStatus.DEACTIVATED;
      target.token = null;
      for (const i of m.invitations) if (i.userId === target.id && i.state === 'PENDING') i.state = 'REVOKED';
    }
  }
  toString() {
    return `${this.reactivate ? 'reactivate' : 'deactivate'}(org${this.org}, actor ${this.actor}, user ${this.target})`;
  }
}

class AssignOrTransfer extends Cmd {
  constructor(readonly org: number, readonly actor: number, readonly thread: number, readonly target: number, readonly transfer: boolean) {
    super();
  }
  async run(m: Model, r: Real): Promise<void> {
    const actor = actorOf(m, this.org, this.actor);
    const t = m.threads[this.thread % m.threads.length]!;
    const target = anyUser(m, this.target);
    const res = this.transfer
      ? await r.call(actor.token, `mutation($t: ID!, $u: ID!) { transferThread(threadId: $t, toUserId: $u, reason: "model") { id assigneeUserId } }`, { t: t.id, u: target.id })
      : await r.call(actor.token, `mutation($t: ID!, $u: ID!) { assignThread(threadId: $t, userId: $u) { id assigneeUserId } }`, { t: t.id, u: target.id });
    refusedCleanly(res.code, this.toString());
    if (res.code) return;
    const why =
      t.org !== this.org || target.org !== this.org ? 'another organization'
      : actor.status !== UserStatus.ACTIVE ? 'inactive actor'
      : !held(actor, t.workspaceId).has(this.transfer ? Permission.THREADS_TRANSFER : Permission.THREADS_ASSIGN) ? 'without the permission'
      : !mayRead(actor, t) ? 'a thread the actor cannot read'
      : target.status !== UserStatus.ACTIVE || !reaches(target, t.workspaceId) ? 'to someone who cannot work there'
      : this.transfer && t.assignee === target.id ? 'a transfer to where it already is'
      : null;
    if (why) fail(`${this}: allowed against the rules: ${why}`);
    t.assignee = target.id;
  }
  toString() {
    return `${this.transfer ? 'transfer' : 'assign'}(org${this.org}, actor ${this.actor}, thread ${this.thread}, to user ${this.target})`;
  }
}

class TakeNext extends Cmd {
  constructor(readonly org: number, readonly actor: number) {
    super();
  }
  async run(m: Model, r: Real): Promise<void> {
    const actor = actorOf(m, this.org, this.actor);
    const o = m.orgs[this.org]!;
    const res = await r.call(actor.token, `mutation($w: ID!) { takeNextThread(workspaceId: $w) { id } }`, { w: o.W });
    refusedCleanly(res.code, this.toString());
    const allowed = actor.token !== null && actor.status === UserStatus.ACTIVE && held(actor, o.W).has(Permission.THREADS_SELF_ASSIGN);
    if (allowed !== (res.code === null)) fail(`${this}: the rules say ${allowed ? 'allowed' : 'refused'}, the server ${res.code ?? 'allowed'}`);
    if (res.code) return;
    // The oldest waiting unassigned thread of the workspace, or none.
    const next = m.threads.filter((t) => t.org === this.org && t.workspaceId === o.W && t.assignee === null).sort((a, b) => a.order - b.order)[0];
    const got = res.data.takeNextThread?.id ?? null;
    if (got !== (next?.id ?? null)) fail(`${this}: took ${got}, the queue's next is ${next?.id ?? 'none'}`);
    if (next) next.assignee = actor.id;
  }
  toString() {
    return `takeNext(org${this.org}, actor ${this.actor})`;
  }
}

// ------------------------------------------------------------------ invariants: the database equals the model

function compare(m: Model, s: Snapshot): void {
  const key = (x: unknown) => JSON.stringify(x);
  const users = new Map(s.users.map(([id, status, pw]) => [id, [status, pw]]));
  for (const u of m.users) {
    if (key(users.get(u.id)) !== key([u.status, u.hasPassword])) fail(`user ${u.id}: database ${key(users.get(u.id))}, model ${key([u.status, u.hasPassword])}`);
  }
  if (users.size !== m.users.length) fail(`the database holds ${users.size} users, the model ${m.users.length}`);
  const want = m.users
    .flatMap((u) => [...u.grants].map(([level, g]) => key([u.id, level, [...g.roles].sort(), [...g.addOns].sort()])))
    .sort();
  const got = s.memberships.map(([u, w, roles, addOns]) => key([u, w, [...roles].sort(), [...addOns].sort()])).sort();
  if (key(got) !== key(want)) fail(`memberships differ:\n database ${got.join(' ')}\n model    ${want.join(' ')}`);
  const invitations = new Map(s.invitations.map(([id, accepted, revoked]) => [id, accepted ? 'ACCEPTED' : revoked ? 'REVOKED' : 'PENDING']));
  for (const i of m.invitations) if (invitations.get(i.id) !== i.state) fail(`invitation ${i.id}: database ${invitations.get(i.id)}, model ${i.state}`);
  if (invitations.size !== m.invitations.length) fail('an invitation the model does not know of');
  const threads = new Map(s.threads.map(([id, org, assignee]) => [id, { org, assignee }]));
  for (const t of m.threads) {
    const row = threads.get(t.id)!;
    if (row.assignee !== t.assignee) fail(`thread ${t.id}: assignee ${row.assignee} in the database, ${t.assignee} in the model`);
    // One assignee, and of the thread's own organization.
    if (row.assignee && m.users.find((u) => u.id === row.assignee)?.org !== t.org) fail(`thread ${t.id} is assigned across organizations`);
  }
  for (const o of m.orgs) {
    const n = s.owners.find(([org]) => org === o.id)?.[1] ?? 0;
    if (n < 1) fail(`organization ${o.id} has no active owner left`);
  }
}

// ------------------------------------------------------------------ fixtures: fresh organizations per sequence, built in bulk

describe('model-based: invitations, memberships and assignment across two organizations', () => {
  let server: TestServer;
  let schema: GraphQLSchema;
  const pool: Model[] = [];
  let pairs = 0;
  let addressSeq = 0;
  let passwordHash: string | undefined;
  const perCommand = new Map<string, [number, number]>();
  const figures = { sequences: 0, commands: 0, allowed: 0, fixtureMs: 0, commandMs: 0, snapshotMs: 0 };

  beforeAll(async () => {
    server = await bootServer();
    schema = buildSchema();
  }, 120_000);
  afterAll(() => server?.close());

  /**
   * Builds `n` pairs of organizations with one INSERT per table (the ORM's unit of work is too slow for
   * thousands of rows on a loaded machine): each with W, W2, five users with sessions, two waiting threads in W.
   */
  async function buildPairs(n: number): Promise<void> {
    passwordHash ??= await hashPassword(FIXTURE_PASSWORD);
    const rows: Record<string, Array<Record<string, unknown>>> = { organizations: [], workspaces: [], users: [], memberships: [], sessions: [], contacts: [], threads: [] };
    const expires = new Date(Date.now() + 24 * 3_600_000).toISOString();
    const built: Model[] = [];
    for (let k = 0; k < n; k++) {
      const pair = ++pairs;
      const m: Model = { pair, orgs: [], users: [], invitations: [], threads: [] };
      for (let org = 0; org < 2; org++) {
        const o = { id: randomUUID(), W: randomUUID(), W2: randomUUID() };
        m.orgs.push(o);
        rows.organizations!.push({ id: o.id, name: `Model ${pair}/${org}` });
        rows.workspaces!.push({ id: o.W, organization_id: o.id, name: 'W' }, { id: o.W2, organization_id: o.id, name: 'W2' });
        const people: Array<[string, string | null, Role, AddOn[]]> = [
          ['owner', null, Role.OWNER, []],
          ['admin', o.W, Role.ADMIN, []],
          ['supervisor', o.W, Role.SUPERVISOR, []],
          ['agent', o.W, Role.AGENT, [AddOn.SELF_ASSIGN, AddOn.TRANSFER]],
          ['agent2', o.W2, Role.AGENT, []],
        ];
        for (const [label, ws, role, addOns] of people) {
          const id = randomUUID();
          const token = newToken('session');
          const address = `${label}-p${pair}-o${org}-${RUN_ID}@model.test`;
          rows.users!.push({ id, organization_id: o.id, name: label, email: address, password_hash: passwordHash, status: 'ACTIVE' });
          rows.memberships!.push({ id: randomUUID(), organization_id: o.id, user_id: id, workspace_id: ws, roles: [role], add_ons: addOns });
          rows.sessions!.push({ id: randomUUID(), organization_id: o.id, user_id: id, token_hash: hashToken(token), expires_at: expires });
          m.users.push({ id, org, email: address, status: UserStatus.ACTIVE, hasPassword: true, grants: new Map([[ws, { roles: [role], addOns }]]), token });
        }
        const contact = randomUUID();
        rows.contacts!.push({ id: contact, organization_id: o.id, workspace_id: o.W, phone: `+1555${String(pair).padStart(5, '0')}${org}1` });
        for (let i = 0; i < 2; i++) {
          const at = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
          const id = randomUUID();
          rows.threads!.push({ id, organization_id: o.id, workspace_id: o.W, contact_id: contact, last_activity_at: at, last_inbound_at: at, needs_response: true });
          m.threads.push({ id, org, workspaceId: o.W, assignee: null, order: i });
        }
      }
      built.push(m);
    }
    const conn = server.app.orm.em.getConnection();
    for (const [table, list] of Object.entries(rows)) {
      const columns = Object.keys(list[0]!).map((c) => `"${c}"`).join(', ');
      await conn.execute(`insert into "${table}" (${columns}) select ${columns} from json_populate_recordset(null::"${table}", ?::json)`, [JSON.stringify(list)]);
    }
    pool.push(...built);
  }

  let building: Promise<void> | null = null;
  async function fresh(): Promise<Model> {
    const t0 = Date.now();
    while (!pool.length) {
      building ??= buildPairs(50).finally(() => (building = null));
      await building;
    }
    figures.fixtureMs += Date.now() - t0;
    return pool.shift()!;
  }

  /** Each document is parsed and validated once: the commands repeat a dozen documents thousands of times. */
  const documents = new Map<string, DocumentNode>();
  function documentOf(query: string): DocumentNode {
    let document = documents.get(query);
    if (!document) {
      document = parse(query);
      const errors = validate(schema, document);
      if (errors.length) throw new Error(`invalid command document: ${errors[0]!.message}`);
      documents.set(query, document);
    }
    return document;
  }

  function realFor(m: Model): Real {
    const logger = pino({ level: 'silent' });
    // Principals are authenticated once per token and dropped after any allowed command (which may change
    // someone's access or end their sessions): refused commands change nothing, so they keep the cache.
    const principals = new Map<string, Principal | null>();
    const principalFor = async (token: string): Promise<Principal | null> => {
      if (!principals.has(token)) {
        const em = server.app.orm.em.fork({ clear: true, useContext: false });
        principals.set(token, await server.app.services.authentication.authenticate(em, token));
      }
      return principals.get(token)!;
    };
    return {
      async call(token, query, variables) {
        const principal = token ? await principalFor(token) : null;
        if (token && !principal) return { data: null, code: ErrorCode.UNAUTHENTICATED };
        const contextValue = await buildContext(
          { orm: server.app.orm, services: server.app.services, logger },
          { requestId: 'model', clientAddress: `model-${++addressSeq}`, token: null, principal },
        );
        const result = await execute({ schema, document: documentOf(query), variableValues: variables, contextValue });
        const error = result.errors?.[0];
        if (!error) {
          figures.allowed++;
          principals.clear();
          return { data: result.data, code: null };
        }
        const original = error.originalError;
        const code = original instanceof DomainError ? original.code : String(error.extensions?.code ?? (original ? `UNEXPECTED: ${original.message}` : 'GRAPHQL_VALIDATION_FAILED'));
        return { data: result.data, code };
      },
      async snapshot() {
        const orgs = `{${m.orgs.map((o) => o.id).join(',')}}`;
        const [row] = await server.app.orm.em.getConnection().execute<Array<{ s: Snapshot }>>(
          `select json_build_object(
             'users', coalesce((select json_agg(json_build_array(id, status, password_hash is not null)) from users where organization_id = any(?::uuid[])), '[]'),
             'memberships', coalesce((select json_agg(json_build_array(user_id, workspace_id, roles::text[], add_ons::text[])) from memberships where organization_id = any(?::uuid[])), '[]'),
             'invitations', coalesce((select json_agg(json_build_array(id, accepted_at is not null, revoked_at is not null)) from invitations where organization_id = any(?::uuid[])), '[]'),
             'threads', coalesce((select json_agg(json_build_array(id, organization_id, assignee_user_id)) from threads where organization_id = any(?::uuid[])), '[]'),
             'owners', coalesce((select json_agg(json_build_array(o, n)) from (
                 select m.organization_id as o, count(distinct m.user_id)::int as n from memberships m join users u on u.id = m.user_id
                  where m.organization_id = any(?::uuid[]) and 'OWNER' = any(m.roles) and u.status = 'ACTIVE' group by m.organization_id) x), '[]')
           ) as s`,
          [orgs, orgs, orgs, orgs, orgs],
        );
        return row!.s;
      },
    };
  }

  /** Each command, then the invariants against the database. */
  const checked = (cmd: Cmd): fc.AsyncCommand<Model, Real, boolean> => ({
    check: () => true,
    async run(m, r) {
      figures.commands++;
      const t0 = Date.now();
      await cmd.run(m, r);
      const t1 = Date.now();
      const name = cmd.toString().split('(')[0]!;
      perCommand.set(name, [(perCommand.get(name)?.[0] ?? 0) + 1, (perCommand.get(name)?.[1] ?? 0) + t1 - t0]);
      compare(m, await r.snapshot());
      figures.commandMs += t1 - t0;
      figures.snapshotMs += Date.now() - t1;
    },
    toString: () => cmd.toString(),
  });

  const org = fc.integer({ min: 0, max: 1 });
  const idx = fc.nat({ max: 20 });
  const commands = [
    fc.tuple(org, idx, fc.nat({ max: 2 }), fc.nat({ max: 2 }), fc.constantFrom(...INVITE_ROLES)).map(([o, a, e, l, role]) => checked(new Invite(o, a, e, l, role))),
    idx.map((i) => checked(new Accept(i))),
    fc.tuple(org, idx, idx, fc.boolean()).map(([o, a, i, resend]) => checked(new RevokeOrResend(o, a, i, resend))),
    fc.tuple(org, idx, idx, fc.nat({ max: 2 }), fc.constantFrom(...GRANT_ROLES)).map(([o, a, t, l, role]) => checked(new UpdateMembership(o, a, t, l, role))),
    fc.tuple(org, idx, idx, fc.boolean()).map(([o, a, t, re]) => checked(new Deactivation(o, a, t, re))),
    fc.tuple(org, idx, fc.nat({ max: 3 }), idx, fc.boolean()).map(([o, a, t, u, tr]) => checked(new AssignOrTransfer(o, a, t, u, tr))),
    fc.tuple(org, idx).map(([o, a]) => checked(new TakeNext(o, a))),
  ];

  it(`holds for ${RUNS} random sequences (seed ${SEED}, ${WORKERS} streams)`, async () => {
    const started = Date.now();
    const property = fc.asyncProperty(fc.commands(commands, { maxCommands: MAX_COMMANDS }), async (cmds) => {
      figures.sequences++;
      // Each sequence (and each replay while shrinking) works on organizations of its own.
      const m = await fresh();
      await fc.asyncModelRun(() => ({ model: m, real: realFor(m) }), cmds);
    });
    // Sequences share nothing, so independent streams (seed, seed + 1, ...) run side by side: the database
    // round trips of one overlap another's. Each stream is reproducible from its own seed.
    const failures: Array<{ seed: number; error: unknown }> = [];
    await Promise.all(
      Array.from({ length: WORKERS }, async (_, w) => {
        const numRuns = Math.floor(RUNS / WORKERS) + (w < RUNS % WORKERS ? 1 : 0);
        try {
          await fc.assert(property, { numRuns, seed: SEED + w, endOnFailure: false });
        } catch (error) {
          failures.push({ seed: SEED + w, error });
        }
      }),
    );
    const failure = failures[0]?.error ?? null;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
      `model-based: ${figures.sequences} sequences, ${figures.commands} commands (${figures.allowed} allowed), failures = ${failures.length}, seed ${SEED}, ${seconds} s ` +
        `(fixtures ${figures.fixtureMs} ms, commands ${figures.commandMs} ms, invariants ${figures.snapshotMs} ms)` +
        (failure ? ` (reproduce: MODEL_SEED=${SEED} MODEL_RUNS=${RUNS} MODEL_WORKERS=${WORKERS}; failing stream seeds ${failures.map((f) => f.seed).join(', ')})` : ''),
    );
    if (process.env.MODEL_PROFILE) console.log([...perCommand].map(([k, [n, ms]]) => `${k}: ${n} x ${(ms / n).toFixed(1)} ms`).join(', '));
    if (failure) throw failure;
  }, 600_000);
});
