import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { Auth, Public } from '../../graphql/auth';
import { Permission } from './permissions';
import { User } from './user.entity';

@ObjectType({ description: 'A session token, shown once, and who it belongs to.' })
@Public('returned only to the caller who just proved who they are')
export class AuthPayload {
  @Field({ description: 'Send as `Authorization: Bearer <token>`; over graphql-ws as `{ authorization }` in connection_init.' })
  token!: string;

  @Field(() => User)
  user!: User;

  @Field(() => String, {
    nullable: true,
    description:
      'From `login`: this device\'s token. Keep it (it is not a credential) and pass it to the next `login`: a known device is ' +
      'throttled on its own, so wrong guesses by others do not lock it out.',
  })
  deviceToken?: string | null;
}

@ObjectType({ description: 'What the caller may do on one workspace (or organization-wide when workspaceId is null).' })
@Auth([])
export class WorkspacePermissions {
  @Field(() => ID, { nullable: true })
  workspaceId!: string | null;

  @Field(() => [Permission])
  permissions!: Permission[];
}

@ObjectType({ description: 'The caller.' })
@Auth([])
export class Viewer {
  @Field(() => ID)
  userId!: string;

  @Field(() => ID)
  organizationId!: string;

  @Field({ description: 'USER for a person, API_KEY for an integrator credential.' })
  kind!: string;

  @Field(() => ID, { nullable: true })
  apiKeyId!: string | null;

  @Field(() => [WorkspacePermissions], { description: 'Effective permissions on every workspace the caller reaches.' })
  permissions!: WorkspacePermissions[];
}

@InputType()
export class SignUpInput {
  @Field({ description: 'The new organization.' })
  organizationName!: string;

  @Field()
  name!: string;

  @Field()
  email!: string;

  @Field()
  password!: string;
}
