/**
 * The fan-out load client, its own process (forked with an IPC channel): holds N sockets, either graphql-ws
 * subscriptions to Switchboard or bare sockets to the baseline server, and times one broadcast per round.
 * The client both triggers the send and receives it, so every latency comes from one clock.
 * Bounded: every wait has a deadline, and the process exits when its parent goes away.
 */
import WebSocket from 'ws';

export type ClientCommand =
  | { cmd: 'connect'; mode: 'graphql' | 'bare'; urls: string[]; n: number; tokens: string[]; query?: string; variables?: Record<string, unknown> }
  | { cmd: 'round'; marker: string; trigger: { url: string; body: string; token?: string } }
  | { cmd: 'close' };

export type ClientReply =
  | { ok: true; connected?: number; latencies?: number[]; missing?: number; connectMs?: number }
  | { ok: false; error: string };

/** Handshakes in flight at once (BENCH_CONNECT_PARALLEL lowers it on a loaded machine, where 200 can pass the 30 s ack deadline). */
const CONNECT_PARALLEL = Number(process.env.BENCH_CONNECT_PARALLEL) || 200;
const ROUND_TIMEOUT_MS = 20_000;
/** Loopback addresses to spread client ports over (28k ephemeral ports each). */
const LOCAL_ADDRESSES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 1}`);

let sockets: WebSocket[] = [];
/** The marker of the round in flight and each socket's receive time for it. */
let round: { marker: string; t0: number; received: Map<number, number>; done: () => void } | null = null;
let addressTurn = 0;

function open(mode: 'graphql' | 'bare', url: string, index: number, token: string, query?: string, variables?: Record<string, unknown>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, mode === 'graphql' ? 'graphql-transport-ws' : undefined, {
      localAddress: LOCAL_ADDRESSES[addressTurn++ % LOCAL_ADDRESSES.length],
      perMessageDeflate: false,
    });
    const timer = setTimeout(() => reject(new Error(`socket ${index}: no ${mode === 'graphql' ? 'connection_ack' : 'open'} within 30 s`)), 30_000);
    socket.on('message', (data: Buffer) => {
      // Time first, parse after: the receive time must not include this client's own work.
      const at = performance.now();
      const text = data.toString();
      if (round && text.includes(round.marker) && !round.received.has(index)) {
        round.received.set(index, at - round.t0);
        if (round.received.size === sockets.length) round.done();
        return;
      }
      if (mode === 'graphql') {
        const message = JSON.parse(text) as { type: string };
        if (message.type === 'connection_ack') {
          socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
          clearTimeout(timer);
          resolve(socket);
        } else if (message.type === 'error') {
          reject(new Error(`socket ${index}: subscription error ${text}`));
        }
      }
    });
    socket.on('open', () => {
      if (mode === 'graphql') socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
      else {
        clearTimeout(timer);
        resolve(socket);
      }
    });
    socket.on('error', (err) => reject(new Error(`socket ${index}: ${err.message}`)));
    socket.on('close', (code) => {
      if (round && !round.received.has(index)) process.stderr.write(`socket ${index} closed (${code}) during a round\n`);
    });
  });
}

async function handle(command: ClientCommand): Promise<ClientReply> {
  switch (command.cmd) {
    case 'connect': {
      // Adds sockets until `n` are open, so one run can measure 1k, then 5k, then 10k on the same processes.
      const t0 = performance.now();
      const start = sockets.length;
      const opened: WebSocket[] = new Array(Math.max(0, command.n - start));
      let next = start;
      await Promise.all(
        Array.from({ length: Math.min(CONNECT_PARALLEL, opened.length) }, async () => {
          while (next < command.n) {
            const i = next++;
            opened[i - start] = await open(command.mode, command.urls[i % command.urls.length]!, i, command.tokens[i % command.tokens.length]!, command.query, command.variables);
          }
        }),
      );
      sockets.push(...opened);
      return { ok: true, connected: sockets.length, connectMs: performance.now() - t0 };
    }
    case 'round': {
      const received = new Map<number, number>();
      const finished = new Promise<void>((resolve) => {
        round = { marker: command.marker, t0: performance.now(), received, done: resolve };
      });
      const send = () =>
        fetch(command.trigger.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(command.trigger.token ? { authorization: `Bearer ${command.trigger.token}` } : {}) },
          body: command.trigger.body,
        });
      // One retry when the request could not be made at all (a refused or reset connection on a loaded machine);
      // the round's clock still starts at the first attempt, and a marker received twice counts once.
      const res = await send().catch(async (err: Error & { cause?: Error }) => {
        process.stderr.write(`load client: trigger failed (${err.cause?.message ?? err.message}); retrying once\n`);
        await new Promise((r) => setTimeout(r, 1_000));
        return send();
      });
      const text = await res.text();
      if (!res.ok || text.includes('"errors"')) throw new Error(`trigger failed: ${res.status} ${text.slice(0, 300)}`);
      await Promise.race([finished, new Promise((r) => setTimeout(r, ROUND_TIMEOUT_MS))]);
      round = null;
      return { ok: true, latencies: [...received.values()], missing: sockets.length - received.size };
    }
    case 'close': {
      for (const s of sockets) s.terminate();
      sockets = [];
      return { ok: true };
    }
  }
}

process.on('message', (command: ClientCommand) => {
  handle(command).then(
    (reply) => process.send!(reply),
    (err: Error & { cause?: Error }) => process.send!({ ok: false, error: err.cause ? `${err.message}: ${err.cause.message}` : err.message } satisfies ClientReply),
  );
});
process.on('disconnect', () => process.exit(0));
