// The live agent dashboard and transfers of a workspace, as a supervisor sees them.
//   npm start                       # in another terminal; note the demo password it prints
//   PASSWORD=... npm run example:dashboard
import WebSocket from 'ws';
import {
  createSwitchboardClient,
  LoginDocument,
  SwitchboardError,
  OnAgentDashboardDocument,
  OnAssignmentTransfersDocument,
  WorkspacesDocument,
} from '../src/index.js';

const url = process.env.SWITCHBOARD_URL ?? 'http://127.0.0.1:4000/graphql';
const email = process.env.EMAIL ?? 'supervisor@demo.switchboard.test';
const password = process.env.PASSWORD;
if (!password) {
  console.error('Set PASSWORD to the demo password printed by `npm start` at its first start.');
  process.exit(1);
}

const anonymous = createSwitchboardClient({ url });
const { login } = await anonymous.mutate(LoginDocument, { email, password });
// One websocket carries both streams. When it drops (a server restart, the network, a slow-consumer close)
// the client reconnects once and resumes each stream from its own last cursor; it says so here.
const client = createSwitchboardClient({
  url,
  token: login.token,
  webSocketImpl: WebSocket,
  onConnectionChange: (change) => {
    if (change.state === 'reconnecting' && change.attempt === 1) console.log(`  (connection closed with ${change.closeCode}; reconnecting)`);
    if (change.state === 'connected') console.log('  (connected)');
  },
});
const { workspaces } = await client.query(WorkspacesDocument);
const workspace = workspaces.find((w) => w.name === (process.env.WORKSPACE ?? 'North Depot')) ?? workspaces[0]!;
console.log(`Watching ${workspace.name} as ${login.user.name}. Ctrl-C to stop.`);

/** A stream ends only when we end it, or with a typed error: say which and stop the example. */
function stopOn(stream: string) {
  return (err: unknown) => {
    const reason = err instanceof SwitchboardError ? `${err.code}: ${err.message}` : String(err);
    console.error(`The ${stream} stream ended (${reason}).`);
    process.exitCode = 1;
  };
}

const dashboard = (async () => {
  for await (const { agentDashboard } of client.subscribe(OnAgentDashboardDocument, { workspaceId: workspace.id })) {
    console.log(`\n[${agentDashboard.generatedAt}] agents`);
    for (const a of agentDashboard.agents) {
      const median = a.medianFirstResponseSeconds === null ? '-' : `${a.medianFirstResponseSeconds}s`;
      console.log(`  ${a.name.padEnd(20)} ${a.availability.padEnd(8)} open ${a.openThreads}  waiting ${a.waitingThreads}  median first response ${median}`);
    }
  }
})().catch(stopOn('dashboard'));

const transfers = (async () => {
  // Resumes on its own after a dropped connection, from this stream's last cursor (transfers.cursor).
  const stream = client.subscribe(OnAssignmentTransfersDocument, { workspaceId: workspace.id }, { after: process.env.AFTER ?? null });
  for await (const { assignmentTransfers: e } of stream) {
    const a = e.assignment;
    console.log(`  ${e.occurredAt} ${a?.kind ?? e.type} thread ${e.threadId} -> user ${a?.toUserId ?? '-'} group ${a?.toGroupId ?? '-'}${a?.reason ? ` (${a.reason})` : ''}`);
  }
})().catch(stopOn('transfers'));

process.once('SIGINT', () => void client.dispose());
await Promise.all([dashboard, transfers]);
