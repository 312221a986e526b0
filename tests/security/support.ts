import pg from 'pg';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { TestServer } from '../support/server';
import { OrgBuilder } from '../support/fixtures';
import { Role } from '../../server/src/modules/identity/permissions';
import { ErrorCode } from '../../server/src/shared/errors';
import { fetchRetryingConnect } from '../support/fetch';

export type GqlError = { message: string; extensions?: { code?: string } };
export type GqlBody = { data?: Record<string, unknown> | null; errors?: GqlError[] };

/** Every code a client may see: the values of the one ErrorCode enum. */
export const ERROR_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/** The principals the security suites act as; `token` undefined is anonymous. */
export interface Principals {
  anonymous: undefined;
  agent: string;
  viewer: string;
  admin: string;
  /** An API key holding only WORKSPACE_READ and CONTACTS_READ on the workspace. */
  apiKey: string;
}

/** Real ids of the tenant, so generated calls also reach past "not found" into the services. */
export interface TenantIds {
  organizationId: string;
  workspaceId: string;
  otherUserId: string;
  contactId: string;
  threadId: string;
  tagId: string;
}

/** One organization with a workspace, users of several roles, a contact, and a narrow API key. */
export async function buildTenant(server: TestServer): Promise<{ principals: Principals; ids: TenantIds }> {
  const org = new OrgBuilder(server.app, 'Fuzzed');
  const W = org.workspace('Main');
  const admin = await org.login(await org.user('Admin', [{ workspace: null, roles: [Role.ADMIN] }]));
  const agent = await org.login(await org.user('Agent', [{ workspace: W, roles: [Role.AGENT] }]));
  const viewer = await org.login(await org.user('Viewer', [{ workspace: W, roles: [Role.VIEWER] }]));
  const other = await org.user('Other', [{ workspace: W, roles: [Role.AGENT] }]);
  await org.flush();
  const asAdmin = async <T>(query: string, variables: Record<string, unknown>): Promise<T> => {
    const r = await server.gql<T>(query, variables, { token: admin.token });
    if (!r.body.data) throw new Error(`fixture call failed: ${query.slice(0, 60)} ${JSON.stringify(r.body.errors)}`);
    return r.body.data;
  };
  const w = W.id;
  const key = await asAdmin<{ createApiKey: { secret: string } }>(
    `mutation($w: ID!) { createApiKey(input: { workspaceId: $w, name: "narrow", permissions: [WORKSPACE_READ, CONTACTS_READ] }) { secret } }`,
    { w },
  );
  const contact = await asAdmin<{ createContact: { id: string } }>(
    `mutation($w: ID!) { createContact(workspaceId: $w, input: { firstName: "Cora", phone: "+15550001111" }) { id } }`,
    { w },
  );
  const thread = await asAdmin<{ startThread: { id: string } }>(
    `mutation($w: ID!, $c: ID!) { startThread(input: { workspaceId: $w, contactId: $c, body: "Hello" }) { id } }`,
    { w, c: contact.createContact.id },
  );
  const tag = await asAdmin<{ createTag: { id: string } }>(`mutation($w: ID!) { createTag(workspaceId: $w, name: "vip") { id } }`, { w });
  return {
    principals: { anonymous: undefined, agent: agent.token, viewer: viewer.token, admin: admin.token, apiKey: key.createApiKey.secret },
    ids: { organizationId: org.id, workspaceId: w, otherUserId: other.id, contactId: contact.createContact.id, threadId: thread.startThread.id, tagId: tag.createTag.id },
  };
}

/** POSTs one document; the body may be non-JSON on a server fault, kept as text then. */
export async function post(server: TestServer, query: string, variables: unknown, token?: string): Promise<{ status: number; body: GqlBody | string }> {
  const res = await fetchRetryingConnect(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as GqlBody };
  } catch {
    return { status: res.status, body: text };
  }
}

/**
 * Polls /healthz back to back while a test runs, and samples this process's event-loop delay (the server is
 * in-process). A late probe counts against the server only when the loop itself was blocked that long: on a
 * loaded CI machine the probe can be late because the OS did not schedule us, which is not the server's doing.
 */
export class HealthProbe {
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private readonly lag = monitorEventLoopDelay({ resolution: 10 });
  readonly latencies: number[] = [];
  failures: string[] = [];
  /** Probes over the limit whose window also saw the event loop blocked that long with this process on the CPU. */
  attributable = 0;
  /** Probes over the limit, whatever the cause. */
  late = 0;

  constructor(
    private readonly base: string,
    private readonly limitMs = 200,
  ) {}

  start(): void {
    this.running = true;
    this.lag.enable();
    this.loop = (async () => {
      while (this.running) {
        this.lag.reset();
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        try {
          const res = await fetchRetryingConnect(`${this.base}/healthz`, { signal: AbortSignal.timeout(10_000) });
          await res.text();
          if (res.status !== 200) this.failures.push(`healthz answered ${res.status}`);
        } catch (err) {
          this.failures.push(`healthz failed: ${(err as Error).message}`);
        }
        const ms = performance.now() - t0;
        this.latencies.push(ms);
        // Late, the loop blocked as long, and this process busy on the CPU for most of that time: the server
        // (which shares this process) held the loop. A late probe while the OS ran other work is not counted.
        const used = process.cpuUsage(cpu0);
        const cpuMs = (used.user + used.system) / 1000;
        if (ms > this.limitMs && this.lag.max / 1e6 > this.limitMs && cpuMs > 0.8 * ms) this.attributable++;
        if (ms > this.limitMs) this.late++;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
  }

  async stop(): Promise<{ probes: number; maxMs: number; p99Ms: number; late: number; attributable: number; failures: string[] }> {
    this.running = false;
    await this.loop;
    this.lag.disable();
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return {
      probes: sorted.length,
      maxMs: Math.round(sorted.at(-1) ?? 0),
      p99Ms: Math.round(sorted[Math.floor(sorted.length * 0.99)] ?? 0),
      late: this.late,
      attributable: this.attributable,
      failures: this.failures,
    };
  }
}

/** Tables whose changes a refused call may legitimately cause (throttle counters) or that are bookkeeping. */
const UNCHECKED_TABLES = new Set(['mikro_orm_migrations', 'throttle_windows', 'event_log_watermark']);
/** Columns written by authenticating (an API key's last use), not by the call itself. */
const UNCHECKED_COLUMNS = ['last_used_at'];

/** A checksum of every tenant table's rows: equal before and after means no row changed. */
export async function tenantChecksum(client: pg.Client): Promise<string> {
  const tables = (await client.query<{ t: string }>(`select tablename t from pg_tables where schemaname = 'public' order by 1`)).rows
    .map((r) => r.t)
    .filter((t) => !UNCHECKED_TABLES.has(t));
  const minus = UNCHECKED_COLUMNS.map((c) => ` - '${c}'`).join('');
  const parts = tables.map(
    (t) => `select '${t}' t, coalesce(md5(string_agg(md5((to_jsonb(x)${minus})::text), '' order by md5((to_jsonb(x)${minus})::text))), '') h from "${t}" x`,
  );
  const rows = (await client.query<{ t: string; h: string }>(parts.join(' union all '))).rows;
  return rows.map((r) => `${r.t}:${r.h}`).sort().join('|');
}

/** The first violation of the error invariants in one answer, or null. */
export function errorViolation(status: number, body: GqlBody | string): string | null {
  if (status >= 500) return `HTTP ${status}`;
  if (typeof body === 'string') return `non-JSON answer (HTTP ${status}): ${body.slice(0, 120)}`;
  for (const e of body.errors ?? []) {
    const code = e.extensions?.code;
    if (code === ErrorCode.INTERNAL) return `INTERNAL_SERVER_ERROR: ${e.message}`;
    if (!code || !ERROR_CODES.has(code)) return `code ${String(code)} is not an ErrorCode: ${e.message}`;
  }
  return null;
}
