import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { ChannelProvider, OutboundSend } from './channel';

/** Where the recording sandbox writes: a schema of its own, never a tenant table of the application. */
export const SANDBOX_SENDS_TABLE = 'sandbox_channel.sends';

interface Pending {
  send: OutboundSend & { providerMessageId: string };
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The sandbox channel, also recording every send it is asked to make in `sandbox_channel.sends` (one row per
 * call, the idempotency key included), so what a server process sent can be checked from outside it, even
 * after the process was killed (tests/campaigns/broadcast-kill.test.ts). A send returns once its row is
 * committed; the sends of one tick are written by one INSERT. It reports no delivery receipts: the recording
 * is the point. Development and tests only (SANDBOX_RECORD_SENDS; refused in production).
 */
export class RecordingSandboxProvider implements ChannelProvider {
  readonly name = 'sandbox';
  private pool: pg.Pool | null = null;
  private ready: Promise<void> | null = null;
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(private readonly databaseUrl: string) {}

  onReceipt(): void {
    // No receipts.
  }

  async send(message: OutboundSend): Promise<{ providerMessageId: string }> {
    const result = { providerMessageId: `sbx_${randomUUID()}` };
    await new Promise<void>((resolve, reject) => {
      this.pending.push({ send: { ...message, providerMessageId: result.providerMessageId }, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
    return result;
  }

  async close(): Promise<void> {
    await this.pool?.end();
    this.pool = null;
  }

  private setup(): Promise<void> {
    this.pool ??= new pg.Pool({ connectionString: this.databaseUrl, max: 2 });
    this.ready ??= this.pool
      .query(
        `create schema if not exists sandbox_channel;
         create table if not exists ${SANDBOX_SENDS_TABLE} (
           seq bigserial primary key, organization_id uuid not null, workspace_id uuid not null, message_id uuid not null,
           to_phone text not null, body text not null, provider_message_id text not null, sent_at timestamptz not null default now())`,
      )
      .then(() => undefined);
    return this.ready;
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending.splice(0);
    if (!batch.length) return;
    try {
      await this.setup();
      const col = <K extends keyof Pending['send']>(k: K) => batch.map((p) => p.send[k]);
      await this.pool!.query(
        `insert into ${SANDBOX_SENDS_TABLE} (organization_id, workspace_id, message_id, to_phone, body, provider_message_id)
         select * from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[])`,
        [col('organizationId'), col('workspaceId'), col('messageId'), col('to'), col('body'), col('providerMessageId')],
      );
      for (const p of batch) p.resolve();
    } catch (err) {
      this.ready = null;
      for (const p of batch) p.reject(err);
    }
  }
}
