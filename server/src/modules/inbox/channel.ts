import { randomUUID } from 'node:crypto';

export interface OutboundSend {
  organizationId: string;
  workspaceId: string;
  messageId: string;
  to: string;
  body: string;
}

export type ReceiptStatus = 'SENT' | 'DELIVERED' | 'FAILED';
export type ReceiptListener = (receipt: { organizationId: string; providerMessageId: string; status: ReceiptStatus; error?: string }) => void;

/** Where outbound messages go (SMS, WhatsApp, ...). Delivery receipts come back later, in any order, maybe twice. */
export interface ChannelProvider {
  readonly name: string;
  send(message: OutboundSend): Promise<{ providerMessageId: string }>;
  onReceipt(listener: ReceiptListener): void;
}

/**
 * Records sends instead of delivering them, then reports receipts (SENT, then DELIVERED, or FAILED for
 * numbers ending in 0000) after a short delay, or when `flushReceipts()` is called.
 */
/** How many recent sends the sandbox keeps for inspection. */
const SANDBOX_KEPT_SENDS = 1_000;

export class SandboxProvider implements ChannelProvider {
  readonly name = 'sandbox';
  readonly sent: Array<OutboundSend & { providerMessageId: string }> = [];
  private readonly listeners: ReceiptListener[] = [];
  private readonly pending: Array<() => void> = [];

  constructor(private readonly receiptDelayMs: number | null = 200) {}

  async send(message: OutboundSend): Promise<{ providerMessageId: string }> {
    const providerMessageId = `sbx_${randomUUID()}`;
    this.sent.push({ ...message, providerMessageId });
    // The sandbox is the default provider of a long-running server: keep only the recent sends in memory.
    if (this.sent.length > SANDBOX_KEPT_SENDS) this.sent.splice(0, this.sent.length - SANDBOX_KEPT_SENDS);
    const report = () => {
      const base = { organizationId: message.organizationId, providerMessageId };
      this.emit({ ...base, status: 'SENT' });
      if (message.to.endsWith('0000')) this.emit({ ...base, status: 'FAILED', error: 'Unreachable number (sandbox)' });
      else this.emit({ ...base, status: 'DELIVERED' });
    };
    if (this.receiptDelayMs === null) this.pending.push(report);
    else setTimeout(report, this.receiptDelayMs).unref();
    return { providerMessageId };
  }

  onReceipt(listener: ReceiptListener): void {
    this.listeners.push(listener);
  }

  /** Reports every receipt held back (receiptDelayMs null). */
  flushReceipts(): void {
    for (const report of this.pending.splice(0)) report();
  }

  private emit(receipt: Parameters<ReceiptListener>[0]): void {
    for (const l of this.listeners) l(receipt);
  }
}
