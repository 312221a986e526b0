import nodemailer from 'nodemailer';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from '../../observability/logger';
import { OutboxMail } from './credentials.entity';

export interface Mail {
  organizationId: string | null;
  to: string;
  subject: string;
  body: string;
}

/**
 * Outgoing mail. `queue` records the mail in the caller's transaction (the outbox is the record, and the
 * mail exists only if the change that caused it committed); `flush` sends after commit.
 */
export interface Mailer {
  queue(em: EntityManager, mail: Mail): OutboxMail;
  flush(mail: OutboxMail): Promise<void>;
}

/** No SMTP configured: the outbox table and the log are where invitation links are found. */
export class OutboxOnlyMailer implements Mailer {
  constructor(private readonly logger: Logger) {}

  queue(em: EntityManager, mail: Mail): OutboxMail {
    return em.create(OutboxMail, { ...mail });
  }

  async flush(mail: OutboxMail): Promise<void> {
    this.logger.info({ to: mail.to, subject: mail.subject }, 'mail kept in the outbox (no SMTP_URL)');
  }
}

export class SmtpMailer implements Mailer {
  private readonly transport: nodemailer.Transporter;

  constructor(url: string, private readonly from: string, private readonly logger: Logger) {
    this.transport = nodemailer.createTransport(url);
  }

  queue(em: EntityManager, mail: Mail): OutboxMail {
    return em.create(OutboxMail, { ...mail });
  }

  async flush(mail: OutboxMail): Promise<void> {
    try {
      await this.transport.sendMail({ from: this.from, to: mail.to, subject: mail.subject, text: mail.body });
    } catch (err) {
      // The mail stays in the outbox unsent (sent_at null): resendInvitation or an operator can retry.
      this.logger.warn({ err: (err as Error).message, to: mail.to }, 'smtp send failed');
    }
  }
}
