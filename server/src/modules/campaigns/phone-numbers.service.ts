import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput, DomainError, ErrorCode, notFound } from '../../shared/errors';
import { actorOf, audit, Organization, type Principal } from '../identity';
import { normalizePhone } from '../inbox';
import { Campaign, CampaignStatus } from './campaign.entity';
import { PhoneNumber } from './phone-number.entity';

const MAX_DISPLAY_NAME = 100;
/** A campaign in one of these states may still send: its number cannot be released from under it. */
const MAY_STILL_SEND = [CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.RUNNING, CampaignStatus.PAUSED];

function checkDisplayName(raw: string): string {
  const name = raw.trim();
  if (!name || name.length > MAX_DISPLAY_NAME) throw badInput(`A display name has 1 to ${MAX_DISPLAY_NAME} characters`, { field: 'displayName' });
  return name;
}

/**
 * The sending numbers of a workspace (PHONE_NUMBERS_MANAGE): registered, renamed, released. A number
 * belongs to one workspace of the organization; campaigns of that workspace send from it.
 */
export class PhoneNumberService {
  list(em: EntityManager, workspaceId: string): Promise<PhoneNumber[]> {
    return em.find(PhoneNumber, { workspaceId }, { orderBy: { number: 'asc' } });
  }

  /** The workspace's registered number, or BAD_USER_INPUT on `field` (what a campaign's sender must be). */
  async requireRegistered(em: EntityManager, workspaceId: string, raw: string, field: string): Promise<PhoneNumber> {
    const number = normalizePhone(raw);
    if (!number) throw badInput(`${field} is not a valid phone number`, { field });
    const found = await em.findOne(PhoneNumber, { workspaceId, number });
    if (!found) throw badInput(`${number} is not a registered number of this workspace (registerPhoneNumber)`, { field });
    return found;
  }

  async register(em: EntityManager, principal: Principal, workspaceId: string, rawNumber: string, rawName: string): Promise<PhoneNumber> {
    const number = normalizePhone(rawNumber);
    if (!number) throw badInput('Not a valid phone number', { field: 'number' });
    const displayName = checkDisplayName(rawName);
    return em.transactional(async (tx) => {
      const taken = await tx.findOne(PhoneNumber, { number });
      if (taken) {
        const where = taken.workspaceId === workspaceId ? 'this workspace' : 'another workspace of the organization';
        throw new DomainError(ErrorCode.CONFLICT, `${number} is registered to ${where}`, { field: 'number' });
      }
      const n = tx.create(PhoneNumber, { organization: tx.getReference(Organization, principal.organizationId), workspaceId, number, displayName, registeredById: principal.userId });
      audit(tx, actorOf(principal), { action: 'phone_number.register', targetType: 'PhoneNumber', targetId: n.id, workspaceId, after: { number, displayName } });
      return n;
    });
  }

  async rename(em: EntityManager, principal: Principal, workspaceId: string, id: string, rawName: string): Promise<PhoneNumber> {
    const displayName = checkDisplayName(rawName);
    return em.transactional(async (tx) => {
      const n = await this.numberIn(tx, workspaceId, id);
      const before = n.displayName;
      n.displayName = displayName;
      audit(tx, actorOf(principal), { action: 'phone_number.rename', targetType: 'PhoneNumber', targetId: id, workspaceId, before: { displayName: before }, after: { displayName } });
      return n;
    });
  }

  /** Releases a number no campaign that may still send uses (CONFLICT, naming the campaign, otherwise). */
  async release(em: EntityManager, principal: Principal, workspaceId: string, id: string): Promise<boolean> {
    return em.transactional(async (tx) => {
      const n = await this.numberIn(tx, workspaceId, id);
      const user = await tx.findOne(Campaign, { workspace: workspaceId, senderNumber: n.number, status: { $in: MAY_STILL_SEND } }, { fields: ['id', 'name'] });
      if (user) throw new DomainError(ErrorCode.CONFLICT, `Campaign "${user.name}" sends from ${n.number}`, { field: 'id', campaignId: user.id });
      audit(tx, actorOf(principal), { action: 'phone_number.release', targetType: 'PhoneNumber', targetId: id, workspaceId, before: { number: n.number, displayName: n.displayName } });
      tx.remove(n);
      return true;
    });
  }

  private async numberIn(em: EntityManager, workspaceId: string, id: string): Promise<PhoneNumber> {
    const n = await em.findOne(PhoneNumber, { id, workspaceId });
    if (!n) throw notFound('PhoneNumber');
    return n;
  }
}
