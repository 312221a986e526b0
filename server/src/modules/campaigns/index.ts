/** The campaigns module's public surface: what the rest of the server may use. */
export { Campaign, CampaignGroup, CampaignGroupMember, CampaignRecipient, CampaignKind, CampaignStatus, RecipientStatus } from './campaign.entity';
export { CampaignGroupService } from './groups.service';
export { CampaignService, progressOf } from './campaigns.service';
export { CampaignGroupResolver, CampaignResolver } from './campaigns.resolver';
import './scopes';
