// Compiled by tests/sdk/types.test.mts with `tsc -p client-sdk/tsconfig.check.json`: every @ts-expect-error
// below must be an error, so a program that sends a wrong variable type or reads a missing field fails to build.
import { createSwitchboardClient, ThreadsDocument, SendMessageDocument, MeDocument } from '../src/index.js';

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
}
void typed;
