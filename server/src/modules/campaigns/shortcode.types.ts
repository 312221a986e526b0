import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { Auth } from '../../graphql/auth';
import { ConnectionType } from '../../graphql/pagination';
import { Permission } from '../identity';

@InputType({ description: 'An opt-in keyword; on update, omitted fields keep their value.' })
export class ShortcodeKeywordInput {
  @Field(() => String, { nullable: true, description: '2 to 20 letters and digits (stored upper case); not a STOP/START word.' })
  keyword?: string | null;

  @Field(() => ID, { nullable: true, description: 'The campaign group a texting contact joins.' })
  groupId?: string | null;

  @Field(() => String, { nullable: true })
  autoReply?: string | null;

  @Field(() => Boolean, { nullable: true })
  active?: boolean | null;
}

@ObjectType({ description: 'A contact subscribed to an opt-in keyword.' })
@Auth(Permission.SHORTCODE_MANAGE)
export class ShortcodeSubscriber {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  workspaceId!: string;

  @Field(() => ID)
  keywordId!: string;

  @Field(() => ID)
  contactId!: string;

  @Field(() => String, { nullable: true })
  phone!: string | null;

  @Field(() => String, { nullable: true })
  firstName!: string | null;

  @Field(() => String, { nullable: true })
  lastName!: string | null;

  @Field({ description: 'KEYWORD (texted in) or MANUAL (added by a manager).' })
  source!: string;

  @Field(() => Date)
  subscribedAt!: Date;

  @Field(() => Date, { nullable: true })
  optedOutAt!: Date | null;

  @Field(() => ID, { nullable: true, description: 'Who opted the subscriber out.' })
  optedOutById!: string | null;
}

export const ShortcodeSubscriberConnection = ConnectionType(ShortcodeSubscriber, 'ShortcodeSubscriber');

@ObjectType({ description: 'What adding subscribers did.' })
@Auth([])
export class SubscribersAdded {
  @Field(() => Int, { description: 'Newly subscribed (or subscribed again after opting out).' })
  added!: number;

  @Field(() => Int)
  alreadySubscribed!: number;

  @Field(() => Int, { description: 'Ids that are no contact of this workspace.' })
  unknown!: number;
}
