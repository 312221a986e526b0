import type { Clock } from './shared/clock';
import type { SignupMode } from './config';
import type { Logger } from './observability/logger';
import { AuthenticationService } from './modules/identity/authentication.service';
import { AgentGroupService } from './modules/identity/agent-groups.service';
import { ApiKeyService } from './modules/identity/api-keys.service';
import { CustomRoleService } from './modules/identity/custom-roles.service';
import { OutboxOnlyMailer, SmtpMailer, type Mailer } from './modules/identity/mailer';
import { PasswordResetService } from './modules/identity/password-reset.service';
import { TeamService } from './modules/identity/team.service';
import { Throttle } from './modules/identity/throttle';
import { WorkspaceService } from './modules/identity/workspaces.service';
import { AssignmentService } from './modules/inbox/assignment.service';
import { CatalogueService } from './modules/inbox/catalogue.service';
import { SandboxProvider, type ChannelProvider } from './modules/inbox/channel';
import { ContactService } from './modules/inbox/contacts.service';
import { MessagingService } from './modules/inbox/messaging.service';
import { ThreadService } from './modules/inbox/threads.service';
import { OrderService, PaymentService, ProductService } from './modules/commerce';
import { CampaignGroupService, CampaignService, PeerToPeerService, PhoneNumberService, ShortcodeService } from './modules/campaigns';
import { ExportService, ReadAuditRecorder, ReportService } from './modules/reports';

/** Every domain service, built once per process. Resolvers reach them through the request context. */
export interface Services {
  clock: Clock;
  mailer: Mailer;
  authentication: AuthenticationService;
  passwordReset: PasswordResetService;
  team: TeamService;
  apiKeys: ApiKeyService;
  agentGroups: AgentGroupService;
  workspaces: WorkspaceService;
  customRoles: CustomRoleService;
  channel: ChannelProvider;
  contacts: ContactService;
  threads: ThreadService;
  messaging: MessagingService;
  assignment: AssignmentService;
  catalogue: CatalogueService;
  products: ProductService;
  orders: OrderService;
  payments: PaymentService;
  reports: ReportService;
  /** The audit of reads (buffered; app.ts starts and stops its writer). */
  readAudit: ReadAuditRecorder;
  /** Exports (app.ts starts their job runner, downloads and schedules). */
  exports: ExportService;
  campaignGroups: CampaignGroupService;
  campaigns: CampaignService;
  /** Peer-to-peer campaigns: texter links, requests, sends, claims (modules/campaigns/p2p.service.ts). */
  p2p: PeerToPeerService;
  shortcodes: ShortcodeService;
  /** A workspace's sending numbers (campaigns send from them). */
  phoneNumbers: PhoneNumberService;
}

export interface ServiceOptions {
  clock: Clock;
  sessionTtlMs: number;
  logger: Logger;
  publicUrl: string;
  smtpUrl?: string;
  /** Whether `signUp` is open to anyone (default) or closed (production: `create-owner` makes the first owner). */
  signup?: SignupMode;
  /** Where outbound messages go; the sandbox (records sends, reports receipts) by default. */
  channel?: ChannelProvider;
}

export function createServices(opts: ServiceOptions): Services {
  const throttle = new Throttle(opts.clock);
  const mailer = opts.smtpUrl
    ? new SmtpMailer(opts.smtpUrl, `Switchboard <no-reply@${new URL(opts.publicUrl).hostname}>`, opts.logger)
    : new OutboxOnlyMailer(opts.logger);
  const authentication = new AuthenticationService(opts.clock, opts.sessionTtlMs, throttle, opts.signup ?? 'open');
  const channel = opts.channel ?? new SandboxProvider();
  const contacts = new ContactService(opts.clock);
  const messaging = new MessagingService(opts.clock, contacts, channel, opts.logger);
  const products = new ProductService(messaging);
  const orders = new OrderService(opts.clock, products);
  const p2p = new PeerToPeerService(opts.clock);
  const assignment = new AssignmentService(opts.clock);
  // In a peer-to-peer campaign only its texters claim replies (claimThread asks the campaigns module).
  assignment.claimGuard = p2p.claimGuard;
  const reports = new ReportService();
  const phoneNumbers = new PhoneNumberService();
  return {
    clock: opts.clock,
    mailer,
    authentication,
    passwordReset: new PasswordResetService(opts.clock, mailer, throttle, authentication, opts.publicUrl),
    team: new TeamService(opts.clock, mailer, authentication, throttle, opts.publicUrl),
    apiKeys: new ApiKeyService(opts.clock),
    agentGroups: new AgentGroupService(),
    workspaces: new WorkspaceService(),
    customRoles: new CustomRoleService(),
    channel,
    contacts,
    threads: new ThreadService(opts.clock),
    messaging,
    assignment,
    catalogue: new CatalogueService(),
    products,
    orders,
    payments: new PaymentService(opts.clock, orders),
    reports,
    readAudit: new ReadAuditRecorder(),
    exports: new ExportService(reports),
    campaignGroups: new CampaignGroupService(),
    campaigns: new CampaignService(opts.clock, phoneNumbers),
    p2p,
    shortcodes: new ShortcodeService(),
    phoneNumbers,
  };
}
