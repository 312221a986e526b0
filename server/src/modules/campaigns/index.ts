/** The campaigns module's public surface: what the rest of the server may use. */
export { Campaign, CampaignGroup, CampaignGroupMember, CampaignRecipient, CampaignKind, CampaignStatus, RecipientStatus } from './campaign.entity';
export { CampaignGroupService } from './groups.service';
export { CampaignService, progressOf } from './campaigns.service';
export { CampaignGroupResolver, CampaignResolver } from './campaigns.resolver';
export { TexterInvite, CampaignTexter } from './p2p.entity';
export { PeerToPeerService } from './p2p.service';
export { PeerToPeerResolver } from './p2p.resolver';
export { ShortcodeKeyword, ShortcodeSubscription, ShortcodeKeywordHit } from './shortcode.entity';
export { ShortcodeService } from './shortcode.service';
export { ShortcodeResolver } from './shortcode.resolver';
export { ShortcodeWorker } from './shortcode-worker';
export { PhoneNumber } from './phone-number.entity';
export { PhoneNumberService } from './phone-numbers.service';
export { PhoneNumberResolver } from './phone-numbers.resolver';
import './scopes';
