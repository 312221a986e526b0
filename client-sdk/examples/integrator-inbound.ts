// An integrator: pushes inbound messages with an API key and prints the replies as they are sent.
//   npm start                                   # in another terminal
//   SWITCHBOARD_API_KEY=sbk_... WORKSPACE_ID=... npm run example:integrator
// Without an API key, ADMIN_PASSWORD (the demo password) lets the example create one as the demo admin.
import WebSocket from 'ws';
import {
  createSwitchboardClient,
  CreateApiKeyDocument,
  IngestInboundMessageDocument,
  LoginDocument,
  OnThreadEventsDocument,
  SwitchboardError,
  WorkspacesDocument,
} from '../src/index.js';

const url = process.env.SWITCHBOARD_URL ?? 'http://127.0.0.1:4000/graphql';
let apiKey = process.env.SWITCHBOARD_API_KEY;
let workspaceId = process.env.WORKSPACE_ID;

if (!apiKey) {
  const password = process.env.ADMIN_PASSWORD;
  if (!password) {
    console.error('Set SWITCHBOARD_API_KEY (and WORKSPACE_ID), or ADMIN_PASSWORD to create a key as the demo admin.');
    process.exit(1);
  }
  const { login } = await createSwitchboardClient({ url }).mutate(LoginDocument, { email: 'admin@demo.switchboard.test', password });
  const admin = createSwitchboardClient({ url, token: login.token });
  const { workspaces } = await admin.query(WorkspacesDocument);
  workspaceId ??= workspaces.find((w) => w.name === 'North Depot')?.id ?? workspaces[0]!.id;
  const { createApiKey } = await admin.mutate(CreateApiKeyDocument, {
    input: { workspaceId, name: 'integrator example', permissions: ['MESSAGES_INGEST', 'THREADS_READ', 'THREADS_READ_ALL', 'MESSAGES_READ_BODY'] },
  });
  apiKey = createApiKey.secret;
  console.log(`Created API key ${createApiKey.apiKey.prefix}… (shown once): ${apiKey}`);
}

const client = createSwitchboardClient({ url, apiKey, webSocketImpl: WebSocket });
const from = process.env.FROM ?? '+15550199999';
const { ingestInboundMessage } = await client.mutate(IngestInboundMessageDocument, {
  input: { workspaceId: workspaceId!, from, body: process.env.BODY ?? 'Hello from the integrator example', externalId: `example-${Date.now()}` },
});
console.log(`Delivered inbound message ${ingestInboundMessage.messageId} into thread ${ingestInboundMessage.threadId}; waiting for replies (Ctrl-C to stop).`);

// Reconnects and resumes from the last cursor on its own; it ends only with a typed error (e.g. FORBIDDEN when
// the key is revoked) or when we stop.
try {
  for await (const { threadEvents: e } of client.subscribe(OnThreadEventsDocument, { threadId: ingestInboundMessage.threadId })) {
    if (e.type === 'MESSAGE_ADDED' && e.message?.direction === 'OUTBOUND') console.log(`reply to ${from}: ${e.message.body}`);
    if (e.type === 'MESSAGE_STATUS' && e.message) console.log(`  delivery: ${e.message.status}`);
  }
} catch (err) {
  console.error(err instanceof SwitchboardError ? `The stream ended: ${err.code} (${err.message})` : err);
  process.exitCode = 1;
}
