import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Auth } from '../../graphql/auth';
import type { RequestContext } from '../../graphql/context';
import { Permission } from '../identity';
import { PhoneNumber } from './phone-number.entity';

/** A workspace's sending numbers: anyone in the workspace sees them; PHONE_NUMBERS_MANAGE changes them. */
@Resolver(() => PhoneNumber)
export class PhoneNumberResolver {
  @Query(() => [PhoneNumber], { description: 'The phone numbers registered to a workspace, in number order.' })
  @Auth(Permission.WORKSPACE_READ)
  phoneNumbers(@Arg('workspaceId', () => ID) workspaceId: string, @Ctx() ctx: RequestContext): Promise<PhoneNumber[]> {
    return ctx.services.phoneNumbers.list(ctx.em, workspaceId);
  }

  @Mutation(() => PhoneNumber, { description: 'Registers a number to the workspace (CONFLICT when the organization has it already).' })
  @Auth(Permission.PHONE_NUMBERS_MANAGE)
  registerPhoneNumber(
    @Arg('workspaceId', () => ID) workspaceId: string,
    @Arg('number') number: string,
    @Arg('displayName') displayName: string,
    @Ctx() ctx: RequestContext,
  ): Promise<PhoneNumber> {
    return ctx.services.phoneNumbers.register(ctx.em, ctx.principal!, workspaceId, number, displayName);
  }

  @Mutation(() => PhoneNumber, { description: "Changes a number's display name." })
  @Auth(Permission.PHONE_NUMBERS_MANAGE)
  renamePhoneNumber(
    @Arg('workspaceId', () => ID) workspaceId: string,
    @Arg('id', () => ID) id: string,
    @Arg('displayName') displayName: string,
    @Ctx() ctx: RequestContext,
  ): Promise<PhoneNumber> {
    return ctx.services.phoneNumbers.rename(ctx.em, ctx.principal!, workspaceId, id, displayName);
  }

  @Mutation(() => Boolean, { description: 'Releases a number from the workspace; refused (CONFLICT) while a campaign that may still send uses it.' })
  @Auth(Permission.PHONE_NUMBERS_MANAGE)
  releasePhoneNumber(@Arg('workspaceId', () => ID) workspaceId: string, @Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    return ctx.services.phoneNumbers.release(ctx.em, ctx.principal!, workspaceId, id);
  }
}
