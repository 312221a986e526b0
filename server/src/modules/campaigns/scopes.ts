import { registerObjectScope } from '../../graphql/object-scope';
import { Campaign, CampaignGroup } from './campaign.entity';

/** Where campaign objects live: the @auth directive checks permissions in their workspace. */
registerObjectScope('CampaignGroup', async (ctx, id) => {
  const g = await ctx.em.findOne(CampaignGroup, { id });
  return g ? { workspaceIds: [g.workspaceId] } : null;
});

registerObjectScope('Campaign', async (ctx, id) => {
  const c = await ctx.em.findOne(Campaign, { id });
  return c ? { workspaceIds: [c.workspaceId] } : null;
});
