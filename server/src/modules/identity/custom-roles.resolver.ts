import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { Auth } from '../../graphql/auth';
import type { RequestContext } from '../../graphql/context';
import { Permission } from './permissions';
import { CustomRole } from './user.entity';

@Resolver(() => CustomRole)
export class CustomRoleResolver {
  @Query(() => [CustomRole], { description: "The organization's custom roles." })
  @Auth(Permission.ORGANIZATION_READ, { scope: 'anywhere' })
  customRoles(@Ctx() ctx: RequestContext): Promise<CustomRole[]> {
    return ctx.services.customRoles.list(ctx.em);
  }

  @Mutation(() => CustomRole)
  @Auth(Permission.CUSTOM_ROLES_MANAGE, { scope: 'organization' })
  createCustomRole(
    @Arg('name') name: string,
    @Arg('permissions', () => [Permission]) permissions: Permission[],
    @Ctx() ctx: RequestContext,
  ): Promise<CustomRole> {
    return ctx.services.customRoles.create(ctx.em, ctx.principal!, { name, permissions });
  }

  @Mutation(() => CustomRole)
  @Auth(Permission.CUSTOM_ROLES_MANAGE, { scope: { object: 'CustomRole', arg: 'id' } })
  updateCustomRole(
    @Arg('id', () => ID) id: string,
    @Arg('name', () => String, { nullable: true }) name: string | null,
    @Arg('permissions', () => [Permission], { nullable: true }) permissions: Permission[] | null,
    @Ctx() ctx: RequestContext,
  ): Promise<CustomRole> {
    return ctx.services.customRoles.update(ctx.em, ctx.principal!, id, { name, permissions });
  }

  @Mutation(() => Boolean)
  @Auth(Permission.CUSTOM_ROLES_MANAGE, { scope: { object: 'CustomRole', arg: 'id' } })
  deleteCustomRole(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<boolean> {
    return ctx.services.customRoles.delete(ctx.em, ctx.principal!, id);
  }
}
