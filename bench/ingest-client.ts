/**
 * The ingest load client, run as its own process so its HTTP work does not share the server's event loop:
 * fires `sendMessage` (mode send), `ingestInboundMessage` (mode ingest, an API key) or the signed inbound
 * webhook (mode webhook) at a fixed concurrency and reports per-call latencies; mode floor sends `{ __typename }`
 * with the session token (what any GraphQL request costs: authentication, Express, Apollo).
 * Input (argv[2], JSON): { url, token, threadIds, count, concurrency, tag, mode?, workspaceId?, secret?, phones? }.
 * Output (stdout, JSON): latencies, elapsed time, failures and the client's own CPU time over the calls.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import { timed } from './lib/report';

interface Job {
  url: string;
  token: string;
  threadIds: string[];
  count: number;
  concurrency: number;
  tag: string;
  mode?: 'send' | 'ingest' | 'webhook' | 'floor';
  workspaceId?: string;
  /** The workspace's webhook secret (mode webhook). */
  secret?: string;
  /** Contacts' phone numbers the inbound messages come from. */
  phones?: string[];
}
const INGEST = `mutation($w: ID!, $f: String!, $b: String!, $x: String) { ingestInboundMessage(input: { workspaceId: $w, from: $f, body: $b, externalId: $x }) { messageId duplicate } }`;

const FLOOR = `query { __typename }`;

const SEND = `mutation($t: ID!, $b: String!, $k: String) { sendMessage(input: { threadId: $t, body: $b, idempotencyKey: $k }) { id status } }`;

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]!) as Job;
  let failures = 0;
  let firstError = '';
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  // node:http with keep-alive sockets (one per concurrent caller): the client shares the server's two cores here,
  // and fetch (undici) cost about 3 ms of CPU per call, more than the server's own work on a webhook.
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency });
  const post = (url: URL, headers: Record<string, string>, body: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  const graphqlUrl = new URL(job.url);
  const graphql = async (token: string, query: string, variables: Record<string, unknown>) => {
    const res = await post(graphqlUrl, { 'content-type': 'application/json', authorization: `Bearer ${token}` }, JSON.stringify({ query, variables }));
    const body = JSON.parse(res.text) as { errors?: unknown[] };
    if (res.status !== 200 || body.errors) {
      failures++;
      firstError ||= `${res.status} ${JSON.stringify(body.errors)}`;
    }
  };
  const webhookUrl = new URL(job.url.replace(/\/graphql$/, '/webhooks/inbound'));
  const latencies = await timed(job.count, job.concurrency, async (i) => {
    const from = job.phones?.[i % job.phones.length] ?? '';
    if (job.mode === 'floor') return graphql(job.token, FLOOR, {});
    if (job.mode === 'ingest') return graphql(job.token, INGEST, { w: job.workspaceId, f: from, b: `Where is my order ${i}?`, x: `in:${job.tag}:${i}` });
    if (job.mode === 'webhook') {
      const raw = JSON.stringify({ deliveryId: `wh:${job.tag}:${i}`, from, body: `Where is my order ${i}?` });
      const res = await post(
        webhookUrl,
        { 'content-type': 'application/json', 'x-switchboard-workspace': job.workspaceId!, 'x-switchboard-signature': `sha256=${createHmac('sha256', job.secret!).update(raw).digest('hex')}` },
        raw,
      );
      if (res.status !== 200) {
        failures++;
        firstError ||= `${res.status} ${res.text}`;
      }
      return;
    }
    return graphql(job.token, SEND, { t: job.threadIds[i % job.threadIds.length], b: `Your order ${i} is on its way`, k: `ingest:${job.tag}:${i}` });
  });
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  agent.destroy();
  process.stdout.write(JSON.stringify({ latencies, elapsedMs, failures, firstError, cpuMs: (cpu.user + cpu.system) / 1000 }));
}

main().catch((err) => {
  process.stderr.write(String((err as Error).stack ?? err));
  process.exit(1);
});
