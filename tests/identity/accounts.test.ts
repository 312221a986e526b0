import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { Client } from 'graphql-ws';
import { bootServer, type TestServer } from '../support/server';
import { FIXTURE_PASSWORD, OrgBuilder } from '../support/fixtures';
import { ConfigError, loadConfig } from '../../server/src/config';
import { Role } from '../../server/src/modules/identity/permissions';
import type { Workspace } from '../../server/src/modules/identity/organization.entity';
import { ManualClock } from '../../server/src/shared/clock';

type Result = {
  status: number;
  headers?: Headers;
  body: { data?: Record<string, any> | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> & { code?: string } }> };
};

const codeOf = (r: Result) => r.body.errors?.[0]?.extensions?.code;
const NEW_PASSWORD = 'a brand new long password';
const LOGIN = `mutation($email: String!, $password: String!, $deviceToken: String) {
  login(email: $email, password: $password, deviceToken: $deviceToken) { token deviceToken user { id } } }`;
const CHANGE = `mutation($current: String!, $next: String!) { changePassword(currentPassword: $current, newPassword: $next) { count } }`;
const REQUEST_RESET = `mutation($email: String!) { requestPasswordReset(email: $email) }`;
const RESET = `mutation($token: String!, $password: String!) { resetPassword(token: $token, newPassword: $password) }`;
const SIGN_UP = `mutation($email: String!) { signUp(input: { organizationName: "Gamma", name: "Gus", email: $email, password: "gus's long password" }) { token } }`;

describe('accounts', { timeout: 60_000 }, () => {
  let server: TestServer;
  let closedServer: TestServer;
  const clock = new ManualClock(new Date('2026-11-30T12:00:00Z'));
  let org: OrgBuilder;
  let W: Workspace;
  let db: pg.Client;

  /** POSTs with the raw response kept (status and headers). */
  async function post(query: string, variables: Record<string, unknown> = {}, token?: string, target = () => server): Promise<Result> {
    const res = await fetch(target().url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Result['body'] };
  }
  const login = (email: string, password: string, deviceToken?: string) => post(LOGIN, { email, password, deviceToken });
  const sql = async <T extends pg.QueryResultRow>(text: string, params: unknown[] = []) => (await db.query<T>(text, params)).rows;

  /** A fresh active user of its own (each rule gets its own account: counters and passwords do not leak). */
  let seq = 0;
  async function person(roles: Role[] = [Role.AGENT]): Promise<{ id: string; email: string; token: string }> {
    const user = await org.user(`Person ${++seq}`, [{ workspace: roles.includes(Role.OWNER) ? null : W, roles }]);
    return org.login(user);
  }
  /** Counters are per window: each rule starts in a window of its own. */
  const nextWindow = () => clock.advance(16 * 60_000);
  const resetMailFor = async (email: string) => {
    const rows = await sql<{ body: string }>(`select body from mail_outbox where "to" = $1 and subject like 'Reset%' order by created_at desc limit 1`, [email]);
    return /\b(sbr_[\w-]+)/.exec(rows[0]?.body ?? '')?.[1];
  };
  const me = async (token: string) => codeOf(await post(`{ me { userId } }`, {}, token)) ?? 'OK';

  beforeAll(async () => {
    server = await bootServer({ clock });
    closedServer = await bootServer({ db: server.db, clock, env: { SIGNUP: 'closed' } });
    org = new OrgBuilder(server.app, 'Accounts');
    W = org.workspace('Main');
    await org.flush();
    db = new pg.Client({ connectionString: server.db.url });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await closedServer?.close();
    await server?.close();
  });

  describe('SIGNUP', () => {
    it('is closed by default in production and open in development and test', () => {
      expect(loadConfig({ NODE_ENV: 'production' }).signup).toBe('closed');
      expect(loadConfig({ NODE_ENV: 'development' }).signup).toBe('open');
      expect(loadConfig({ NODE_ENV: 'test' }).signup).toBe('open');
      expect(loadConfig({}).signup).toBe('open');
    });

    it('can be set either way explicitly, and refuses other values by name', () => {
      expect(loadConfig({ NODE_ENV: 'production', SIGNUP: 'open' }).signup).toBe('open');
      expect(loadConfig({ NODE_ENV: 'development', SIGNUP: 'closed' }).signup).toBe('closed');
      expect(() => loadConfig({ SIGNUP: 'maybe' })).toThrow(ConfigError);
      expect(() => loadConfig({ SIGNUP: 'maybe' })).toThrow(/SIGNUP/);
    });

    it('closed: signUp is FORBIDDEN, says how the first owner is made, and creates nothing', async () => {
      const before = Number((await sql<{ n: string }>(`select count(*) n from organizations`))[0]!.n);
      const r = await post(SIGN_UP, { email: 'closed@gamma.test' }, undefined, () => closedServer);
      expect(codeOf(r)).toBe('FORBIDDEN');
      expect(r.body.errors![0]!.message).toMatch(/create-owner/);
      expect(Number((await sql<{ n: string }>(`select count(*) n from organizations`))[0]!.n)).toBe(before);
      expect(await sql(`select 1 from users where email = 'closed@gamma.test'`)).toHaveLength(0);
    });

    it('open: signUp still creates an organization and its owner', async () => {
      const r = await post(SIGN_UP, { email: 'open@gamma.test' });
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data!.signUp.token).toMatch(/^sbs_/);
    });
  });

  describe('changePassword', () => {
    it('with the right current password: the new one logs in and the old one no longer does', async () => {
      nextWindow();
      const u = await person();
      const r = await post(CHANGE, { current: FIXTURE_PASSWORD, next: NEW_PASSWORD }, u.token);
      expect(r.body.errors).toBeUndefined();
      expect(codeOf(await login(u.email, FIXTURE_PASSWORD))).toBe('INVALID_CREDENTIALS');
      expect((await login(u.email, NEW_PASSWORD)).body.data!.login.token).toMatch(/^sbs_/);
    });

    it("ends the user's other sessions and keeps the current one", async () => {
      nextWindow();
      const u = await person();
      const other = (await login(u.email, FIXTURE_PASSWORD)).body.data!.login.token as string;
      const r = await post(CHANGE, { current: FIXTURE_PASSWORD, next: NEW_PASSWORD }, u.token);
      expect(r.body.data!.changePassword.count).toBe(1);
      expect(await me(other)).toBe('UNAUTHENTICATED');
      expect(await me(u.token)).toBe('OK');
    });

    it('writes an audit row', async () => {
      nextWindow();
      const u = await person();
      await post(CHANGE, { current: FIXTURE_PASSWORD, next: NEW_PASSWORD }, u.token);
      const rows = await sql<{ actor_user_id: string }>(`select actor_user_id from audit_log where action = 'user.password.change' and target_id = $1`, [u.id]);
      expect(rows).toEqual([{ actor_user_id: u.id }]);
    });

    it('refuses a wrong current password with INVALID_CREDENTIALS and changes nothing', async () => {
      nextWindow();
      const u = await person();
      const other = (await login(u.email, FIXTURE_PASSWORD)).body.data!.login.token as string;
      expect(codeOf(await post(CHANGE, { current: 'not the password at all', next: NEW_PASSWORD }, u.token))).toBe('INVALID_CREDENTIALS');
      expect(await me(other)).toBe('OK');
      expect((await login(u.email, FIXTURE_PASSWORD)).body.errors).toBeUndefined();
    });

    it('applies the sign-up password policy to the new password', async () => {
      const u = await person();
      const r = await post(CHANGE, { current: FIXTURE_PASSWORD, next: 'short' }, u.token);
      expect(codeOf(r)).toBe('BAD_USER_INPUT');
      expect(r.body.errors![0]!.extensions!.field).toBe('password');
      expect((await login(u.email, FIXTURE_PASSWORD)).body.errors).toBeUndefined();
    });

    it('is FORBIDDEN for an API key', async () => {
      const owner = await person([Role.OWNER]);
      const key = await post(
        `mutation($ws: ID!) { createApiKey(input: { workspaceId: $ws, name: "bot", permissions: [THREADS_READ] }) { secret } }`,
        { ws: W.id },
        owner.token,
      );
      const secret = key.body.data!.createApiKey.secret as string;
      expect(codeOf(await post(CHANGE, { current: FIXTURE_PASSWORD, next: NEW_PASSWORD }, secret))).toBe('FORBIDDEN');
      expect((await login(owner.email, FIXTURE_PASSWORD)).body.errors).toBeUndefined();
    });

    it('is UNAUTHENTICATED without a credential', async () => {
      expect(codeOf(await post(CHANGE, { current: FIXTURE_PASSWORD, next: NEW_PASSWORD }))).toBe('UNAUTHENTICATED');
    });

    it("closes the other sessions' open sockets and keeps the current session's socket", async () => {
      nextWindow();
      const u = await person();
      const other = (await login(u.email, FIXTURE_PASSWORD)).body.data!.login.token as string;
      const connect = (token: string) =>
        new Promise<{ client: Client; closed: Promise<number> }>((resolve, reject) => {
          let onClosed!: (code: number) => void;
          const closed = new Promise<number>((r) => (onClosed = r));
          const client = server.wsClient({
            lazy: false,
            // The ended socket's close is the expected outcome, not an error to print.
            onNonLazyError: () => undefined,
            connectionParams: { authorization: `Bearer ${token}` },
            on: {
              connected: () => resolve({ client, closed }),
              closed: (e) => onClosed((e as { code: number }).code),
              error: reject,
            },
          });
        });
      const kept = await connect(u.token);
      const ended = await connect(other);
      await post(CHANGE, { current: FIXTURE_PASSWORD, next: NEW_PASSWORD }, u.token);
      expect(await ended.closed).toBe(4403);
      const still = await new Promise<unknown>((resolve, reject) => {
        let value: unknown;
        kept.client.subscribe({ query: `{ me { userId } }` }, { next: (v) => (value = v), error: reject, complete: () => resolve(value) });
      });
      expect(still).toEqual({ data: { me: { userId: u.id } } });
    });
  });

  describe('password reset', () => {
    it('answers the same whether or not the address has an account, and mails only a real one', async () => {
      nextWindow();
      const u = await person();
      const known = await post(REQUEST_RESET, { email: u.email });
      const unknown = await post(REQUEST_RESET, { email: 'nobody-here@example.test' });
      expect(known.status).toBe(unknown.status);
      expect(known.body).toEqual(unknown.body);
      expect(known.body).toEqual({ data: { requestPasswordReset: true } });
      expect(await resetMailFor(u.email)).toMatch(/^sbr_/);
      expect(await sql(`select 1 from mail_outbox where "to" = 'nobody-here@example.test'`)).toHaveLength(0);
    });

    it('stores only the hash of the token, with a one hour expiry', async () => {
      nextWindow();
      const u = await person();
      await post(REQUEST_RESET, { email: u.email });
      const token = (await resetMailFor(u.email))!;
      const rows = await sql<{ token_hash: string; expires_at: Date }>(`select token_hash, expires_at from password_reset_tokens where user_id = $1`, [u.id]);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.token_hash).toBe(createHash('sha256').update(token).digest('hex'));
      expect(rows[0]!.expires_at.getTime()).toBe(clock.now().getTime() + 3_600_000);
    });

    it('sets the new password with the mailed token: the new one logs in, the old one does not', async () => {
      nextWindow();
      const u = await person();
      await post(REQUEST_RESET, { email: u.email });
      const r = await post(RESET, { token: await resetMailFor(u.email), password: NEW_PASSWORD });
      expect(r.body).toEqual({ data: { resetPassword: true } });
      expect(codeOf(await login(u.email, FIXTURE_PASSWORD))).toBe('INVALID_CREDENTIALS');
      expect((await login(u.email, NEW_PASSWORD)).body.errors).toBeUndefined();
    });

    it("ends every session of the user and writes an audit row", async () => {
      nextWindow();
      const u = await person();
      const other = (await login(u.email, FIXTURE_PASSWORD)).body.data!.login.token as string;
      await post(REQUEST_RESET, { email: u.email });
      await post(RESET, { token: await resetMailFor(u.email), password: NEW_PASSWORD });
      expect(await me(u.token)).toBe('UNAUTHENTICATED');
      expect(await me(other)).toBe('UNAUTHENTICATED');
      expect(await sql(`select 1 from audit_log where action = 'user.password.reset' and target_id = $1`, [u.id])).toHaveLength(1);
    });

    it('a token works once', async () => {
      nextWindow();
      const u = await person();
      await post(REQUEST_RESET, { email: u.email });
      const token = await resetMailFor(u.email);
      expect((await post(RESET, { token, password: NEW_PASSWORD })).body.errors).toBeUndefined();
      expect(codeOf(await post(RESET, { token, password: 'yet another long password' }))).toBe('INVALID_CREDENTIALS');
      expect((await login(u.email, NEW_PASSWORD)).body.errors).toBeUndefined();
    });

    it('a token still works just before one hour', async () => {
      nextWindow();
      const u = await person();
      await post(REQUEST_RESET, { email: u.email });
      const token = await resetMailFor(u.email);
      clock.advance(59 * 60_000);
      expect((await post(RESET, { token, password: NEW_PASSWORD })).body.errors).toBeUndefined();
    });

    it('a token expires after one hour and then changes nothing', async () => {
      nextWindow();
      const u = await person();
      await post(REQUEST_RESET, { email: u.email });
      const token = await resetMailFor(u.email);
      clock.advance(60 * 60_000 + 1000);
      expect(codeOf(await post(RESET, { token, password: NEW_PASSWORD }))).toBe('INVALID_CREDENTIALS');
      expect(await me(u.token)).toBe('OK');
      expect((await login(u.email, FIXTURE_PASSWORD)).body.errors).toBeUndefined();
    });

    it('an unknown token is INVALID_CREDENTIALS', async () => {
      expect(codeOf(await post(RESET, { token: 'sbr_not-a-real-token', password: NEW_PASSWORD }))).toBe('INVALID_CREDENTIALS');
    });

    it('applies the password policy and keeps the token', async () => {
      nextWindow();
      const u = await person();
      await post(REQUEST_RESET, { email: u.email });
      const token = await resetMailFor(u.email);
      expect(codeOf(await post(RESET, { token, password: 'short' }))).toBe('BAD_USER_INPUT');
      expect((await post(RESET, { token, password: NEW_PASSWORD })).body.errors).toBeUndefined();
    });

    it('requests are rate-limited per account like logins (429, Retry-After), with the same answer for unknown addresses', async () => {
      nextWindow();
      const u = await person();
      for (let i = 0; i < 5; i++) expect((await post(REQUEST_RESET, { email: u.email })).status).toBe(200);
      const limited = await post(REQUEST_RESET, { email: u.email });
      expect(limited.status).toBe(429);
      expect(codeOf(limited)).toBe('RATE_LIMITED');
      for (let i = 0; i < 5; i++) await post(REQUEST_RESET, { email: 'ghost@example.test' });
      expect((await post(REQUEST_RESET, { email: 'ghost@example.test' })).status).toBe(429);
    });
  });

  it('takes changePassword, requestPasswordReset and resetPassword once per document (no alias-batched guessing)', async () => {
    const u = await person();
    const batched = [
      `mutation { a: changePassword(currentPassword: "guess one xx", newPassword: "${NEW_PASSWORD}") { count } b: changePassword(currentPassword: "guess two xx", newPassword: "${NEW_PASSWORD}") { count } }`,
      `mutation { a: requestPasswordReset(email: "${u.email}") b: requestPasswordReset(email: "${u.email}") }`,
      `mutation { a: resetPassword(token: "sbr_a", newPassword: "${NEW_PASSWORD}") b: resetPassword(token: "sbr_b", newPassword: "${NEW_PASSWORD}") }`,
    ];
    for (const doc of batched) expect(codeOf(await post(doc, {}, u.token))).toBe('QUERY_TOO_COMPLEX');
  });

  describe('lockouts', () => {
    /** Wrong guesses until the account-wide counter refuses (10 attempts a window); returns the refusal. */
    async function lockOut(email: string): Promise<Result> {
      for (let i = 0; i < 11; i++) {
        const r = await login(email, 'a wrong guess, again');
        if (codeOf(r) !== 'INVALID_CREDENTIALS') return r;
      }
      throw new Error('still not locked out after 11 wrong guesses');
    }

    it('answer HTTP 429 with Retry-After (seconds) and RATE_LIMITED', async () => {
      nextWindow();
      const u = await person();
      const r = await lockOut(u.email);
      expect(r.status).toBe(429);
      expect(codeOf(r)).toBe('RATE_LIMITED');
      const retryAfter = Number(r.headers!.get('retry-after'));
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(15 * 60);
      expect(r.body.errors![0]!.extensions!.retryAfterSeconds).toBe(retryAfter);
      expect(r.body.errors![0]!.extensions).not.toHaveProperty('http');
    });

    it('Retry-After counts down with the window', async () => {
      nextWindow();
      const u = await person();
      const first = Number((await lockOut(u.email)).headers!.get('retry-after'));
      clock.advance(5 * 60_000);
      const later = Number((await login(u.email, FIXTURE_PASSWORD)).headers!.get('retry-after'));
      expect(later).toBe(first - 5 * 60);
    });

    it('lock out the right password too, from a device not known to the account', async () => {
      nextWindow();
      const u = await person();
      await lockOut(u.email);
      const r = await login(u.email, FIXTURE_PASSWORD);
      expect(r.status).toBe(429);
      expect(codeOf(r)).toBe('RATE_LIMITED');
    });

    it('end with the window: the right password works again', async () => {
      nextWindow();
      const u = await person();
      const locked = await lockOut(u.email);
      clock.advance(Number(locked.headers!.get('retry-after')) * 1000);
      const r = await login(u.email, FIXTURE_PASSWORD);
      expect(r.status).toBe(200);
      expect(r.body.errors).toBeUndefined();
    });

    it('do not lock out a known device (one that logged in to this account before) with the right password', async () => {
      nextWindow();
      const u = await person();
      const first = await login(u.email, FIXTURE_PASSWORD);
      const deviceToken = first.body.data!.login.deviceToken as string;
      expect(deviceToken).toMatch(/^sbd_/);
      await lockOut(u.email);
      const r = await login(u.email, FIXTURE_PASSWORD, deviceToken);
      expect(r.status).toBe(200);
      expect(r.body.data!.login.token).toMatch(/^sbs_/);
      expect(r.body.data!.login.deviceToken).toBe(deviceToken);
    });

    it("a device known to another account does not count as known", async () => {
      nextWindow();
      const u = await person();
      const stranger = await person();
      const strangersDevice = (await login(stranger.email, FIXTURE_PASSWORD)).body.data!.login.deviceToken as string;
      await lockOut(u.email);
      expect((await login(u.email, FIXTURE_PASSWORD, strangersDevice)).status).toBe(429);
      expect((await login(u.email, FIXTURE_PASSWORD, 'sbd_made-up-device')).status).toBe(429);
    });

    it("a password reset lifts the account's lockout: the new password logs in at once", async () => {
      nextWindow();
      const u = await person();
      await lockOut(u.email);
      await post(REQUEST_RESET, { email: u.email });
      expect((await post(RESET, { token: await resetMailFor(u.email), password: NEW_PASSWORD })).body.errors).toBeUndefined();
      const r = await login(u.email, NEW_PASSWORD);
      expect(r.status).toBe(200);
      expect(r.body.errors).toBeUndefined();
    });

    it("a known device's own wrong guesses are limited on its own counter", async () => {
      nextWindow();
      const u = await person();
      const deviceToken = (await login(u.email, FIXTURE_PASSWORD)).body.data!.login.deviceToken as string;
      for (let i = 0; i < 10; i++) await login(u.email, 'a wrong guess, again', deviceToken);
      expect((await login(u.email, FIXTURE_PASSWORD, deviceToken)).status).toBe(429);
      // The account-wide counter was not touched: another device still gets in.
      expect((await login(u.email, FIXTURE_PASSWORD)).status).toBe(200);
    });
  });
});
