import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLSafeInt } from 'graphql-scalars';
import { Auth, Public } from '../../graphql/auth';
import { ConnectionType } from '../../graphql/pagination';
import { Permission } from '../identity';
import { OrderEventType } from '../../realtime';
import { Order, OrderStatus, PaymentStatus, Product } from './commerce.entity';

registerEnumType(OrderEventType, { name: 'OrderEventType', description: 'What happened to an order or its payments.' });

export const ProductConnection = ConnectionType(Product, 'Product');
export const OrderConnection = ConnectionType(Order, 'Order');

@InputType({ description: 'A new product: price in integer minor units (1250 = 12.50 USD).' })
export class ProductInput {
  @Field() sku!: string;
  @Field() name!: string;
  @Field(() => String, { nullable: true }) description?: string | null;
  @Field(() => GraphQLSafeInt) priceAmount!: number;
  @Field({ description: 'ISO 4217 code.' }) currency!: string;
  @Field(() => Boolean, { nullable: true }) active?: boolean | null;
  @Field(() => String, { nullable: true }) imageUrl?: string | null;
}

@InputType({ description: 'Changes to a product; omitted fields stay as they are (null clears description and image).' })
export class ProductUpdateInput {
  @Field(() => String, { nullable: true }) sku?: string | null;
  @Field(() => String, { nullable: true }) name?: string | null;
  @Field(() => String, { nullable: true }) description?: string | null;
  @Field(() => GraphQLSafeInt, { nullable: true }) priceAmount?: number | null;
  @Field(() => String, { nullable: true }) currency?: string | null;
  @Field(() => Boolean, { nullable: true }) active?: boolean | null;
  @Field(() => String, { nullable: true }) imageUrl?: string | null;
}

@InputType({ description: "A line: a product (its name and price by default) or free text with a unit price." })
export class OrderLineInput {
  @Field(() => ID, { nullable: true }) productId?: string | null;
  @Field(() => String, { nullable: true }) description?: string | null;
  @Field(() => Int) quantity!: number;
  @Field(() => GraphQLSafeInt, { nullable: true, description: 'Minor units; a product line takes the product price when omitted.' })
  unitAmount?: number | null;
}

@InputType({ description: "An order from a conversation: the thread's contact is its customer." })
export class CreateOrderInput {
  @Field(() => ID) threadId!: string;
  @Field(() => [OrderLineInput]) lines!: OrderLineInput[];
  @Field(() => String, { nullable: true, description: "Defaults to the contact's name." }) customerName?: string | null;
  @Field(() => Boolean, { nullable: true, description: 'Place it at once (PLACED) rather than keep a DRAFT.' }) place?: boolean | null;
  @Field(() => String, { nullable: true, description: 'A retry with the same key returns the first order.' }) idempotencyKey?: string | null;
}

@InputType({ description: 'An order without a conversation.' })
export class CreateIndependentOrderInput {
  @Field(() => ID) workspaceId!: string;
  @Field(() => [OrderLineInput]) lines!: OrderLineInput[];
  @Field(() => ID, { nullable: true }) contactId?: string | null;
  @Field(() => String, { nullable: true }) customerName?: string | null;
  @Field(() => Boolean, { nullable: true }) place?: boolean | null;
  @Field(() => String, { nullable: true }) idempotencyKey?: string | null;
}

@InputType({ description: 'A payment against a placed order (minor units of the order currency).' })
export class RecordPaymentInput {
  @Field(() => ID) orderId!: string;
  @Field(() => GraphQLSafeInt) amount!: number;
  @Field() method!: string;
  @Field(() => String, { nullable: true }) externalReference?: string | null;
  @Field(() => String, { nullable: true }) proofUrl?: string | null;
  @Field(() => String, { nullable: true, description: 'A retry with the same key returns the first payment.' }) idempotencyKey?: string | null;
}

@ObjectType({ description: 'What the viewer may do with this order now (its status and their permissions).' })
@Public('computed for the viewer from their own access; carries no data of its own')
export class OrderViewerCan {
  @Field() place!: boolean;
  @Field() cancel!: boolean;
  @Field() fulfill!: boolean;
  @Field() delete!: boolean;
  @Field() comment!: boolean;
  @Field() recordPayment!: boolean;
  @Field() reopen!: boolean;
}

@ObjectType({ description: 'What the viewer may do with this payment now.' })
@Public('computed for the viewer from their own access; carries no data of its own')
export class PaymentViewerCan {
  @Field() reconcile!: boolean;
  @Field() reject!: boolean;
}

@ObjectType({ description: 'An order as it is after the event.' })
@Auth(Permission.ORDERS_READ)
export class OrderSnapshot {
  @Field(() => ID) id!: string;
  @Field(() => ID) workspaceId!: string;
  @Field(() => OrderStatus) status!: OrderStatus;
  @Field(() => ID, { nullable: true }) threadId!: string | null;
  @Field(() => ID) createdById!: string;
  @Field() currency!: string;
  @Field(() => GraphQLSafeInt) totalAmount!: number;
  @Field(() => GraphQLSafeInt) paidAmount!: number;
  @Field({ description: 'The order was deleted (soft).' }) deleted!: boolean;
}

@ObjectType({ description: 'A payment carried by an order event.' })
@Auth(Permission.ORDERS_READ)
export class PaymentSnapshot {
  @Field(() => ID) id!: string;
  @Field(() => ID) workspaceId!: string;
  @Field(() => PaymentStatus) status!: PaymentStatus;
  @Field(() => GraphQLSafeInt) amount!: number;
  @Field(() => String, { nullable: true }) rejectionReason!: string | null;
}

@ObjectType({ description: 'A comment carried by an order event.' })
@Auth(Permission.ORDERS_READ)
export class OrderCommentSnapshot {
  @Field(() => ID) id!: string;
  @Field(() => ID) workspaceId!: string;
  @Field(() => ID) authorId!: string;
  @Field() body!: string;
  @Field() createdAt!: string;
}

@ObjectType({ description: 'One event of an order stream. Keep `cursor`: subscribing with `after: cursor` resumes with no gap.' })
@Auth(Permission.ORDERS_READ)
export class OrderEvent {
  @Field() cursor!: string;
  @Field(() => OrderEventType) type!: OrderEventType;
  @Field(() => ID) workspaceId!: string;
  @Field() occurredAt!: string;
  @Field(() => OrderSnapshot) order!: OrderSnapshot;
  @Field(() => PaymentSnapshot, { nullable: true }) payment!: PaymentSnapshot | null;
  @Field(() => OrderCommentSnapshot, { nullable: true }) comment!: OrderCommentSnapshot | null;
}
