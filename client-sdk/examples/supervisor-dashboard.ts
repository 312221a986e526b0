// The live agent dashboard and transfers of a workspace, as a supervisor sees them.
//   npm start                       # in another terminal; note the demo password it prints
//   PASSWORD=... npm run example:dashboard
import WebSocket from 'ws';
import {
  createSwitchboardClient,
  LoginDocument,
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
const client = createSwitchboardClient({ url, token: login.token, webSocketImpl: WebSocket });
const { workspaces } = await client.query(WorkspacesDocument);
const workspace = workspaces.find((w) => w.name === (process.env.WORKSPACE ?? 'North Depot')) ?? workspaces[0]!;
console.log(`Watching ${workspace.name} as ${login.user.name}. Ctrl-C to stop.`);

const dashboard = (async () => {
  for await (const { agentDashboard } of client.subscribe(OnAgentDashboardDocument, { workspaceId: workspace.id })) {
    console.log(`\n[${agentDashboard.generatedAt}] agents`);
    for (const a of agentDashboard.agents) {
      const median = a.medianFirstResponseSeconds === null ? '-' : `${a.medianFirstResponseSeconds}s`;
      console.log(`  ${a.name.padEnd(20)} ${a.availability.padEnd(8)} open ${a.openThreads}  waiting ${a.waitingThreads}  median first response ${median}`);
    }
  }
})();

const transfers = (async () => {
  // Resumes on its own after a dropped connection: the SDK keeps the last cursor.
  for await (const { assignmentTransfers: e } of client.subscribe(OnAssignmentTransfersDocument, { workspaceId: workspace.id })) {
    const a = e.assignment;
    console.log(`  ${e.occurredAt} ${a?.kind ?? e.type} thread ${e.threadId} -> user ${a?.toUserId ?? '-'} group ${a?.toGroupId ?? '-'}${a?.reason ? ` (${a.reason})` : ''}`);
  }
})();

await Promise.all([dashboard, transfers]);
