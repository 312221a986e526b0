import { CatalogSend, CommerceSettings, Order, OrderComment, OrderLine, Payment, Product } from './commerce.entity';

export const COMMERCE_ENTITIES: Function[] = [Product, CatalogSend, CommerceSettings, Order, OrderLine, OrderComment, Payment];
