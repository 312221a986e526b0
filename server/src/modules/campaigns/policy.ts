import { DomainError, ErrorCode, badInput } from '../../shared/errors';
import { CampaignKind, CampaignStatus, type Campaign } from './campaign.entity';

/**
 * The campaign rules, each a sentence. The @auth directive has already checked the caller's permission where
 * the campaign or group lives (CAMPAIGNS_MANAGE to compose, CAMPAIGNS_START to start, pause, resume and
 * cancel, CAMPAIGN_GROUPS_MANAGE to create and remove groups, CAMPAIGN_GROUPS_ADD_CONTACTS to fill them).
 */

/** The moves a campaign's status may make; everything else is an illegal transition. */
const TRANSITIONS: Record<CampaignStatus, readonly CampaignStatus[]> = {
  DRAFT: [CampaignStatus.SCHEDULED, CampaignStatus.RUNNING, CampaignStatus.CANCELLED],
  SCHEDULED: [CampaignStatus.RUNNING, CampaignStatus.CANCELLED, CampaignStatus.DRAFT],
  RUNNING: [CampaignStatus.PAUSED, CampaignStatus.COMPLETED, CampaignStatus.CANCELLED],
  PAUSED: [CampaignStatus.RUNNING, CampaignStatus.CANCELLED],
  COMPLETED: [],
  CANCELLED: [],
};

/** Resume continues a PAUSED campaign; start begins a DRAFT or SCHEDULED one (they are not the same act). */
export function assertFrom(campaign: Campaign, to: CampaignStatus, allowed: readonly CampaignStatus[]): void {
  if (!allowed.includes(campaign.status)) {
    throw new DomainError(ErrorCode.CONFLICT, `A ${campaign.status} campaign cannot become ${to} this way`, { from: campaign.status, to, field: 'status' });
  }
}

/** A campaign moves only along TRANSITIONS: anything else is CONFLICT with both states named. */
export function assertTransition(campaign: Campaign, to: CampaignStatus): void {
  if (!TRANSITIONS[campaign.status].includes(to)) {
    throw new DomainError(ErrorCode.CONFLICT, `A ${campaign.status} campaign cannot become ${to}`, { from: campaign.status, to, field: 'status' });
  }
}

/** Only a DRAFT or SCHEDULED campaign is edited: once it has started, what was sent is what it says. */
export function assertEditable(campaign: Campaign): void {
  if (campaign.status !== CampaignStatus.DRAFT && campaign.status !== CampaignStatus.SCHEDULED) {
    throw new DomainError(ErrorCode.CONFLICT, `A ${campaign.status} campaign can no longer be edited`, { from: campaign.status, field: 'status' });
  }
}

/** A campaign starts only with somewhere to send: at least one group or a contact filter. */
export function assertHasTargets(campaign: Campaign): void {
  if (!campaign.targetGroupIds.length && !campaign.contactFilter) {
    throw badInput('The campaign targets no group and no contact filter', { field: 'targetGroupIds' });
  }
}

/** Texters work peer-to-peer campaigns only: a broadcast is sent by the server. */
export function assertPeerToPeer(campaign: Campaign): void {
  if (campaign.kind !== CampaignKind.PEER_TO_PEER) throw new DomainError(ErrorCode.CONFLICT, 'This is a broadcast campaign: texters do not work it', { field: 'campaignId' });
}

/** Texters get contacts only from a RUNNING campaign. */
export function assertHandsOutThreads(campaign: Campaign): void {
  if (campaign.status !== CampaignStatus.RUNNING) {
    throw new DomainError(ErrorCode.CONFLICT, `A ${campaign.status} campaign hands out no threads`, { from: campaign.status });
  }
}

/** A texter asks for 1 to the campaign's maximum per request (set by whoever manages the campaign). */
export function assertRequestSize(campaign: Campaign, count: number): void {
  if (!Number.isInteger(count) || count < 1 || count > campaign.maxThreadsPerRequest) {
    throw badInput(`count must be 1..${campaign.maxThreadsPerRequest}`, { field: 'count', max: campaign.maxThreadsPerRequest });
  }
}

/** Quiet hours "HH:MM"-"HH:MM" in the workspace's time zone (may span midnight); both or neither. */
export function inQuietHours(start: string | null, end: string | null, timeZone: string, now: Date): boolean {
  if (!start || !end || start === end) return false;
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(now);
  const hh = parts.find((p) => p.type === 'hour')!.value;
  const mm = parts.find((p) => p.type === 'minute')!.value;
  const t = `${hh}:${mm}`;
  return start < end ? t >= start && t < end : t >= start || t < end;
}
