// The commerce module's public surface: what other modules and the app may use.
import './scopes';

export { CatalogSend, CommerceSettings, Order, OrderComment, OrderLine, OrderStatus, Payment, PaymentStatus, Product } from './commerce.entity';
export { CatalogSendFieldsResolver, OrderFieldsResolver, OrderResolver, PaymentFieldsResolver, ProductResolver } from './commerce.resolver';
export { ProductService } from './products.service';
export { OrderService } from './orders.service';
export { PaymentService } from './payments.service';
export { ordersPerAgentToday, type AgentOrdersToday } from './dashboard';
export { OrderEventType } from './events';

/** Every entity of the module (db/entities.ts lists them). */
export { COMMERCE_ENTITIES } from './entities';
/** Every resolver of the module (graphql/schema.ts registers them). */
export { COMMERCE_RESOLVERS } from './resolvers';
