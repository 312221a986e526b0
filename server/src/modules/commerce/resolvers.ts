import './scopes';
import { CatalogSendFieldsResolver, OrderFieldsResolver, OrderResolver, PaymentFieldsResolver, ProductResolver } from './commerce.resolver';

export const COMMERCE_RESOLVERS: Function[] = [ProductResolver, CatalogSendFieldsResolver, OrderResolver, OrderFieldsResolver, PaymentFieldsResolver];
