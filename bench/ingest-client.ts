/**
 * The ingest load client, run as its own process so its HTTP work does not share the server's event loop:
 * fires `sendMessage` at a fixed concurrency and reports per-call latencies.
 * Input (argv[2], JSON): { url, token, threadIds, count, concurrency, tag }. Output (stdout, JSON).
 */
import { timed } from './lib/report';

interface Job {
  url: string;
  token: string;
  threadIds: string[];
  count: number;
  concurrency: number;
  tag: string;
}

const SEND = `mutation($t: ID!, $b: String!, $k: String) { sendMessage(input: { threadId: $t, body: $b, idempotencyKey: $k }) { id status } }`;

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]!) as Job;
  let failures = 0;
  let firstError = '';
  const started = performance.now();
  const latencies = await timed(job.count, job.concurrency, async (i) => {
    const res = await fetch(job.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${job.token}` },
      body: JSON.stringify({
        query: SEND,
        variables: { t: job.threadIds[i % job.threadIds.length], b: `Your order ${i} is on its way`, k: `ingest:${job.tag}:${i}` },
      }),
    });
    const body = (await res.json()) as { errors?: unknown[] };
    if (body.errors) {
      failures++;
      firstError ||= JSON.stringify(body.errors);
    }
  });
  const elapsedMs = performance.now() - started;
  process.stdout.write(JSON.stringify({ latencies, elapsedMs, failures, firstError }));
}

main().catch((err) => {
  process.stderr.write(String((err as Error).stack ?? err));
  process.exit(1);
});
