import { ApiKeyEntity } from './api-key.entity.js';
import { TenantEntity } from './tenant.entity.js';

export { ApiKeyEntity, ApiKeyRole } from './api-key.entity.js';
export { TenantEntity } from './tenant.entity.js';

/** Every entity of the platform; the DataSource and the drift check both use this list. */
export const ENTITIES = [TenantEntity, ApiKeyEntity];
