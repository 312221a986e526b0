import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Auth } from '../../graphql/auth';
import type { RequestContext } from '../../graphql/context';
import { ApiKey } from './credentials.entity';
import { Permission } from './permissions';
import { ApiKeyWithSecret, CreateApiKeyInput } from './team.types';

@Resolver(() => ApiKey)
export class ApiKeyResolver {
  @Mutation(() => ApiKeyWithSecret, { description: "Creates an integrator key for one workspace with a subset of the creator's permissions." })
  @Auth(Permission.API_KEYS_MANAGE, { scope: { arg: 'input.workspaceId' } })
  createApiKey(@Arg('input') input: CreateApiKeyInput, @Ctx() ctx: RequestContext): Promise<ApiKeyWithSecret> {
    return ctx.services.apiKeys.create(ctx.em, ctx.principal!, input);
  }

  @Mutation(() => ApiKey)
  @Auth(Permission.API_KEYS_MANAGE, { scope: { object: 'ApiKey', arg: 'id' } })
  revokeApiKey(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<ApiKey> {
    return ctx.services.apiKeys.revoke(ctx.em, ctx.principal!, id);
  }

  @Query(() => [ApiKey])
  @Auth(Permission.API_KEYS_MANAGE)
  apiKeys(@Arg('workspaceId', () => ID) workspaceId: string, @Ctx() ctx: RequestContext): Promise<ApiKey[]> {
    return ctx.services.apiKeys.list(ctx.em, workspaceId);
  }
}
