import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { Auth, Public } from '../../graphql/auth';
import { ConnectionType } from '../../graphql/pagination';
import { ApiKey, Invitation } from './credentials.entity';
import { AddOn, Permission, Role } from './permissions';
import { AuditLogEntry } from './team.entity';
import { User } from './user.entity';

@InputType({ description: 'Invite someone on a workspace, or organization-wide when workspaceId is null.' })
export class InviteUserInput {
  @Field()
  email!: string;

  @Field(() => String, { nullable: true, description: 'Shown until they choose their own at acceptance.' })
  name?: string | null;

  @Field(() => [Role])
  roles!: Role[];

  @Field(() => [AddOn], { defaultValue: [] })
  addOns!: AddOn[];

  @Field(() => ID, { nullable: true, description: 'Null: an organization-wide membership (owners only for OWNER).' })
  workspaceId?: string | null;
}

@ObjectType({ description: 'A new invitation and its one-time accept token (shown only here; also mailed).' })
@Auth(Permission.USERS_INVITE, { scope: 'anywhere' })
export class InvitationWithToken {
  @Field(() => Invitation)
  invitation!: Invitation;

  @Field({ description: 'Pass to acceptInvitation. Valid 7 days; resending replaces it.' })
  acceptToken!: string;
}

@InputType({ description: "A user's roles and add-ons at one level; both empty removes the membership." })
export class UpdateMembershipInput {
  @Field(() => ID)
  userId!: string;

  @Field(() => ID, { nullable: true, description: 'Null: the organization-wide membership.' })
  workspaceId?: string | null;

  @Field(() => [Role])
  roles!: Role[];

  @Field(() => [AddOn], { defaultValue: [] })
  addOns!: AddOn[];

  @Field(() => [ID], { nullable: true, description: "The organization's custom roles to hold here; null keeps them as they are." })
  customRoleIds?: string[] | null;
}

@InputType()
export class CreateApiKeyInput {
  @Field(() => ID)
  workspaceId!: string;

  @Field()
  name!: string;

  @Field(() => [Permission], { description: 'At most what the creator holds on the workspace.' })
  permissions!: Permission[];
}

@ObjectType({ description: 'A new API key and its secret, shown only here.' })
@Auth(Permission.API_KEYS_MANAGE, { scope: 'anywhere' })
export class ApiKeyWithSecret {
  @Field(() => ApiKey)
  apiKey!: ApiKey;

  @Field({ description: 'Send as `Authorization: Bearer <secret>`. Shown once.' })
  secret!: string;
}

@ObjectType({ description: 'What the viewer may do with this user.' })
@Public('computed for the viewer from their own access; carries no data of its own')
export class UserViewerCan {
  @Field({ description: 'Change roles, deactivate, reactivate.' })
  manage!: boolean;

  @Field()
  setAvailability!: boolean;
}

@ObjectType({ description: 'What the viewer may do on this workspace.' })
@Public('computed for the viewer from their own access; carries no data of its own')
export class WorkspaceViewerCan {
  @Field(() => [Permission], { description: 'Every permission the viewer holds here (inherited ones included).' })
  permissions!: Permission[];

  @Field()
  inviteUsers!: boolean;

  @Field()
  manageUsers!: boolean;

  @Field()
  manageApiKeys!: boolean;

  @Field()
  manageAgentGroups!: boolean;

  @Field()
  readAuditLog!: boolean;
}

export const UserConnection = ConnectionType(User, 'User');
export const AuditLogConnection = ConnectionType(AuditLogEntry, 'AuditLog');

@ObjectType({ description: 'The result of revoking sessions.' })
@Auth([])
export class RevokedSessions {
  @Field(() => Int)
  count!: number;
}
