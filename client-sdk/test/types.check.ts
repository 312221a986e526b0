// Compiled by tests/sdk/sdk.test.mts with `tsc -p client-sdk/tsconfig.check.json`: every @ts-expect-error
// below must be an error, so a program that sends a wrong variable type or reads a missing field fails to build.
import {
  createSwitchboardClient,
  ThreadsDocument,
  SendMessageDocument,
  MeDocument,
  OnThreadEventsDocument,
  OnAgentDashboardDocument,
  JoinCampaignDocument,
  RequestCampaignThreadsDocument,
  SendCampaignMessageDocument,
  ClaimCampaignReplyDocument,
  type RecipientStatus,
  SwitchboardError,
  type Availability,
  type DeliveryStatus,
  type MessageDirection,
  type ThreadStatus,
  type SwitchboardErrorCode,
} from '../src/index.js';

async function typed(): Promise<void> {
  const client = createSwitchboardClient({ url: 'http://localhost:4000/graphql', token: 'sbs_x' });

  const page = await client.query(ThreadsDocument, { workspaceId: 'w', first: 10 });
  const status: string = page.threads.edges[0]!.node.status;
  void status;

  // @ts-expect-error: first is an Int, not a string
  await client.query(ThreadsDocument, { workspaceId: 'w', first: 'ten' });

  // @ts-expect-error: workspaceId is required
  await client.query(ThreadsDocument, { first: 10 });

  // @ts-expect-error: threads have no "subject" field
  void page.threads.edges[0]!.node.subject;

  // @ts-expect-error: input.threadId is required
  await client.mutate(SendMessageDocument, { input: { body: 'hi' } });

  const me = await client.query(MeDocument);
  // @ts-expect-error: the viewer has no "password"
  void me.me.password;

  // Live payloads are typed as queries are: enums, not plain strings.
  const stream = client.subscribe(OnThreadEventsDocument, { threadId: 't' });
  const cursor: string | null = stream.cursor;
  void cursor;
  for await (const { threadEvents: e } of stream) {
    const direction: MessageDirection | undefined = e.message?.direction;
    const delivery: DeliveryStatus | undefined = e.message?.status;
    const threadStatus: ThreadStatus | undefined = e.thread?.status;
    void [direction, delivery, threadStatus];
    // @ts-expect-error: a message is INBOUND or OUTBOUND
    if (e.message?.direction === 'SIDEWAYS') break;
    // @ts-expect-error: a thread is OPEN, SNOOZED or CLOSED
    if (e.thread?.status === 'PENDING') break;
  }
  for await (const { agentDashboard } of client.subscribe(OnAgentDashboardDocument, { workspaceId: 'w' })) {
    const availability: Availability | undefined = agentDashboard.agents[0]?.availability;
    void availability;
  }

  // A texter's peer-to-peer flow: join by link, request a batch, send each, claim replies.
  const joined = await client.mutate(JoinCampaignDocument, { token: 'sbt_x' });
  const batch = await client.mutate(RequestCampaignThreadsDocument, { campaignId: joined.joinCampaign.id, count: 5 });
  const sent = await client.mutate(SendCampaignMessageDocument, { campaignId: joined.joinCampaign.id, recipientId: batch.requestCampaignThreads[0]!.id });
  const recipientStatus: RecipientStatus = sent.sendCampaignMessage.status;
  void recipientStatus;
  // @ts-expect-error: count is an Int
  await client.mutate(RequestCampaignThreadsDocument, { campaignId: 'c', count: 'five' });
  // @ts-expect-error: claiming names the campaign as well as the thread
  await client.mutate(ClaimCampaignReplyDocument, { threadId: 't' });

  // Error codes are the server's (generated from its ErrorCode enum) and the SDK's own.
  const codes: SwitchboardErrorCode[] = ['CURSOR_EXPIRED', 'FORBIDDEN', 'BAD_REQUEST', 'NETWORK_ERROR', 'SUBSCRIPTION_COMPLETED', 'NOT_CAMPAIGN_TEXTER'];
  void codes;
  // @ts-expect-error: not a code the server or the SDK sends
  const unknownCode: SwitchboardErrorCode = 'TEAPOT';
  void unknownCode;
  const failure = new SwitchboardError('FORBIDDEN', 'closed', [], undefined, 4403);
  const closeCode: number | undefined = failure.closeCode;
  void closeCode;
}
void typed;
