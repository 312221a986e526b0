/**
 * The fan-out baseline: a bare `ws` server (its own process) that, on POST /broadcast, sends one payload of
 * the same shape and size as Switchboard's graphql-ws `next` message to every socket it holds.
 * Prints `ready <port>` once listening.
 */
import http from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/broadcast') {
    res.writeHead(404).end();
    return;
  }
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    const { payload } = JSON.parse(body) as { payload: string };
    for (const socket of clients) socket.send(payload);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
});
const wss = new WebSocketServer({ server, perMessageDeflate: false });
const clients = new Set<WebSocket>();
wss.on('connection', (socket) => {
  clients.add(socket);
  socket.on('close', () => clients.delete(socket));
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`ready ${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => process.exit(0));
