import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { GraphQLError } from 'graphql';
import { bootServer, type TestServer } from '../support/server';
import { buildTenant, post, tenantChecksum, type GqlBody, type Principals, type TenantIds } from './support';
import { formatError } from '../../server/src/graphql/errors';
import { encodeCursor } from '../../server/src/graphql/pagination';
import { decodeEventCursor, encodeEventCursor } from '../../server/src/realtime/events';
import { SandboxProvider } from '../../server/src/modules/inbox/channel';

const b64 = (s: string) => Buffer.from(s).toString('base64url');

function codes(body: GqlBody | string): Array<string | undefined> {
  return typeof body === 'string' ? ['<non-JSON>'] : (body.errors ?? []).map((e) => e.extensions?.code);
}

describe('input validation at the edge', () => {
  let server: TestServer;
  let principals: Principals;
  let ids: TenantIds;
  let db: pg.Client;
  beforeAll(async () => {
    // Nothing writes behind the test's back (receipts held, no snooze sweep): "nothing changed" is checkable.
    server = await bootServer({ channel: new SandboxProvider(null), sweepSnoozes: false });
    ({ principals, ids } = await buildTenant(server));
    db = new pg.Client({ connectionString: server.db.url });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await server?.close();
  });

  describe('ID accepts UUIDs only (BAD_USER_INPUT before any SQL)', () => {
    for (const bad of ['nope', '', '1', `${'0'.repeat(8)}-0000-0000-0000-00000000000g`, "' or 1=1 --", 'x'.repeat(10_000)]) {
      it(`refuses ${JSON.stringify(bad.slice(0, 40))} as a variable (400)`, async () => {
        const r = await post(server, 'query($id: ID!) { thread(id: $id) { id } }', { id: bad }, principals.admin);
        expect(r.status).toBe(400);
        expect(codes(r.body)).toEqual(['BAD_USER_INPUT']);
      });
    }

    it('refuses a malformed id literal, an Int literal, and one inside an input object and a list', async () => {
      const literal = await post(server, '{ thread(id: "nope") { id } }', {}, principals.admin);
      expect(literal.status).toBe(400);
      expect(codes(literal.body)).toEqual(['BAD_USER_INPUT']);
      const int = await post(server, '{ thread(id: 12) { id } }', {}, principals.admin);
      expect(codes(int.body)).toEqual(['BAD_USER_INPUT']);
      const nested = await post(
        server,
        'mutation($input: UpdateMembershipInput!) { updateMembership(input: $input) { id } }',
        { input: { userId: ids.otherUserId, workspaceId: ids.workspaceId, roles: ['AGENT'], customRoleIds: ['not-an-id'] } },
        principals.admin,
      );
      expect(nested.status).toBe(400);
      expect(codes(nested.body)).toEqual(['BAD_USER_INPUT']);
    });

    it('still accepts real ids (and any-case UUIDs)', async () => {
      const r = await post(server, 'query($id: ID!) { thread(id: $id) { id } }', { id: ids.threadId }, principals.admin);
      expect(r.body).toMatchObject({ data: { thread: { id: ids.threadId } } });
    });
  });

  describe('text holding NUL is refused', () => {
    it('in a String variable, a nested input field, and a literal (BAD_USER_INPUT, nothing changed)', async () => {
      const before = await tenantChecksum(db);
      const variable = await post(server, 'mutation($w: ID!, $n: String!) { createTag(workspaceId: $w, name: $n) { id } }', { w: ids.workspaceId, n: 'a\u0000b' }, principals.admin);
      expect(variable.status).toBe(400);
      expect(codes(variable.body)).toEqual(['BAD_USER_INPUT']);
      const nested = await post(
        server,
        'mutation($w: ID!, $i: ContactInput!) { createContact(workspaceId: $w, input: $i) { id } }',
        { w: ids.workspaceId, i: { firstName: 'N', phone: '+15550002222', customFields: { note: 'x\u0000' } } },
        principals.admin,
      );
      expect(codes(nested.body)).toEqual(['BAD_USER_INPUT']);
      const literal = await post(server, `mutation { createTag(workspaceId: "${ids.workspaceId}", name: "a\\u0000b") { id } }`, {}, principals.admin);
      expect(literal.status).toBe(400);
      expect(codes(literal.body)).toEqual(['BAD_USER_INPUT']);
      expect(await tenantChecksum(db)).toBe(before);
    });

    it('over graphql-ws too', async () => {
      const client = server.wsClient({ connectionParams: { authorization: `Bearer ${principals.admin}` } });
      const code = await new Promise<string | undefined>((resolve) => {
        client.subscribe(
          { query: 'query($s: String) { contacts(workspaceId: "' + ids.workspaceId + '", search: $s) { edges { cursor } } }', variables: { s: '\u0000' } },
          {
            next: (r) => resolve((r.errors?.[0]?.extensions as { code?: string } | undefined)?.code),
            error: (e) => resolve((e as Array<{ extensions?: { code?: string } }>)[0]?.extensions?.code),
            complete: () => resolve(undefined),
          },
        );
      });
      expect(code).toBe('BAD_USER_INPUT');
    });
  });

  describe('cursors are fully validated', () => {
    const forged = [
      encodeCursor(['not a date', '00000000-0000-0000-0000-000000000000']),
      encodeCursor(['2026-11-30T00:00:00.000Z', 'not-a-uuid']),
      encodeCursor(['99999-01-01T00:00:00.000Z', '00000000-0000-0000-0000-000000000000']),
      encodeCursor(['2026-02-31T00:00:00.000Z', '00000000-0000-0000-0000-000000000000']),
      encodeCursor([1, 2]),
      encodeCursor(['2026-11-30T00:00:00.000Z']),
      b64('["2026-11-30T00:00:00.000Z","00000000-0000-0000-0000-000000000000\u0000"]'),
      'not base64 !',
      'A'.repeat(5000),
    ];
    const lists = (w: string) => [
      `{ threads(workspaceId: "${w}", after: $after) { edges { cursor } } }`,
      `{ contacts(workspaceId: "${w}", after: $after) { edges { cursor } } }`,
      `{ optOuts(workspaceId: "${w}", after: $after) { edges { cursor } } }`,
      `{ users(after: $after) { edges { cursor } } }`,
      `{ auditLog(after: $after) { edges { cursor } } }`,
      `{ keywordAlerts(workspaceId: "${w}", after: $after) { edges { cursor } } }`,
      `{ thread(id: "${ids.threadId}") { messages(after: $after) { edges { cursor } } } }`,
    ];
    it('a forged cursor on every list is BAD_USER_INPUT, never a 500', async () => {
      const seen: string[] = [];
      for (const list of lists(ids.workspaceId)) {
        const query = `query($after: String) ${list.slice(1).replace(/^\s*/, '{ ')}`.replace('{ {', '{');
        for (const after of forged) {
          const r = await post(server, query, { after }, principals.admin);
          const c = codes(r.body);
          if (r.status >= 500 || c.join() !== 'BAD_USER_INPUT') seen.push(`${list.slice(2, 40)} ${after.slice(0, 30)}: ${r.status} ${c.join()}`);
        }
      }
      expect(seen).toEqual([]);
    });

    it('a real cursor still pages', async () => {
      const r = await post(server, `query($w: ID!) { contacts(workspaceId: $w, first: 1) { edges { cursor } } }`, { w: ids.workspaceId }, principals.admin);
      const cursor = (r.body as { data: { contacts: { edges: Array<{ cursor: string }> } } }).data.contacts.edges[0]!.cursor;
      const next = await post(server, `query($w: ID!, $a: String) { contacts(workspaceId: $w, first: 1, after: $a) { edges { cursor } } }`, { w: ids.workspaceId, a: cursor }, principals.admin);
      expect((next.body as GqlBody).errors).toBeUndefined();
    });

    it('event-log cursors out of the xid8/bigint range, or with trailing parts, do not decode', () => {
      expect(decodeEventCursor(encodeEventCursor('5', '7'))).toEqual({ xid: '5', id: '7' });
      expect(decodeEventCursor(encodeEventCursor('18446744073709551615', '9223372036854775807'))).not.toBeNull();
      expect(decodeEventCursor(encodeEventCursor('18446744073709551616', '1'))).toBeNull();
      expect(decodeEventCursor(encodeEventCursor('1', '9223372036854775808'))).toBeNull();
      expect(decodeEventCursor(b64('1:2:3'))).toBeNull();
      expect(decodeEventCursor('%%%')).toBeNull();
    });

    it('a forged event-log cursor on a subscription is BAD_USER_INPUT', async () => {
      const client = server.wsClient({ connectionParams: { authorization: `Bearer ${principals.admin}` } });
      const code = await new Promise<string | undefined>((resolve) => {
        client.subscribe(
          { query: 'subscription($w: ID!, $a: String) { inboxEvents(workspaceId: $w, after: $a) { __typename } }', variables: { w: ids.workspaceId, a: encodeEventCursor('1', '99999999999999999999') } },
          {
            next: (r) => resolve((r.errors?.[0]?.extensions as { code?: string } | undefined)?.code),
            error: (e) => resolve((e as Array<{ extensions?: { code?: string } }>)[0]?.extensions?.code),
            complete: () => resolve(undefined),
          },
        );
      });
      expect(code).toBe('BAD_USER_INPUT');
    });
  });

  describe('request-level refusals use our codes', () => {
    it('none among several operations named is OPERATION_RESOLUTION_FAILURE (400); an empty query is BAD_REQUEST (400)', async () => {
      const r = await post(server, 'query A { __typename } query B { __typename }', {}, undefined);
      expect(r.status).toBe(400);
      expect(codes(r.body)).toEqual(['OPERATION_RESOLUTION_FAILURE']);
      const empty = await post(server, '', {}, undefined);
      expect(empty.status).toBe(400);
      expect(codes(empty.body)).toEqual(['BAD_REQUEST']);
    });

    it('variables with over 50 errors (graphql-js gives up coercing) are BAD_USER_INPUT (400)', async () => {
      const r = await post(server, 'mutation($input: InviteUserInput!) { inviteUser(input: $input) { acceptToken } }', { input: { email: 'a@b.co', roles: Array.from({ length: 60 }, () => 'NOPE') } }, principals.admin);
      expect(r.status).toBe(400);
      expect(codes(r.body)).toContain('BAD_USER_INPUT');
      expect(codes(r.body)).not.toContain('INTERNAL_SERVER_ERROR');
    });

    it('a subscription over HTTP is BAD_REQUEST (400): subscriptions are served over graphql-ws', async () => {
      const r = await post(server, 'subscription($w: ID!) { unreadCounts(workspaceId: $w) { threads } }', { w: ids.workspaceId }, principals.agent);
      expect(r.status).toBe(400);
      expect(codes(r.body)).toEqual(['BAD_REQUEST']);
    });

    it('an unknown persisted query is PERSISTED_QUERY_NOT_FOUND, with the message Apollo clients retry on', async () => {
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } } }),
      });
      const body = (await res.json()) as GqlBody;
      expect(codes(body)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
      expect(body.errors?.[0]?.message).toBe('PersistedQueryNotFound');
    });
  });

  describe('a database error caused by input is typed, never INTERNAL_SERVER_ERROR', () => {
    const cases: Array<[string, string, string]> = [
      ['22P02', "select 'nope'::uuid", 'BAD_USER_INPUT'],
      ['22001', "select 'abc'::varchar(2)::text from (select 1) x where 'abc'::varchar(2) = 'abc'", 'BAD_USER_INPUT'],
      ['22003', 'select 99999999999::int', 'BAD_USER_INPUT'],
      ['22008', "select '294277-01-01'::timestamptz", 'BAD_USER_INPUT'],
      ['22007', "select 'not a date'::timestamptz", 'BAD_USER_INPUT'],
      ['22P05', `select '"\\u0000"'::jsonb`, 'BAD_USER_INPUT'],
      ['23505', 'create temp table u (x int unique); insert into u values (1), (1)', 'CONFLICT'],
      ['23503', 'create temp table p (x int primary key); create temp table c (x int references p); insert into c values (1)', 'NOT_FOUND'],
    ];
    for (const [state, sql, expected] of cases) {
      it(`${state} from Postgres becomes ${expected}`, async () => {
        let caught: unknown;
        const em = server.app.orm.em.fork();
        try {
          await em.transactional(async (tx) => {
            // In the transaction (its context): a temp table must be seen by the next statement, on the same connection.
            for (const statement of sql.split('; ')) await tx.getConnection().execute(statement, [], 'all', tx.getTransactionContext());
          });
        } catch (err) {
          caught = err;
        }
        // 22001 needs a write to a too-short column; the cast above truncates silently, so build it directly.
        if (state === '22001') {
          caught = undefined;
          try {
            await em.transactional(async (tx) => {
              await tx.getConnection().execute('create temp table s (x varchar(2))', [], 'all', tx.getTransactionContext());
              await tx.getConnection().execute("insert into s values ('abc')", [], 'all', tx.getTransactionContext());
            });
          } catch (err) {
            caught = err;
          }
        }
        expect((caught as { code?: string }).code).toBe(state);
        const unexpected: unknown[] = [];
        const wrapped = new GraphQLError('boom', { originalError: caught as Error });
        const out = formatError(wrapped.toJSON(), wrapped, (e) => unexpected.push(e));
        expect(out.extensions?.code).toBe(expected);
        expect(out.message).not.toMatch(/select|insert|uuid|jsonb/i);
      });
    }

    it('other errors stay INTERNAL_SERVER_ERROR', () => {
      const wrapped = new GraphQLError('boom', { originalError: new Error('a bug') });
      expect(formatError(wrapped.toJSON(), wrapped, () => undefined).extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    });
  });
});
