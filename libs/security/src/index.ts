export * from './api-key.guard.js';
export * from './api-key.service.js';
export * from './auth-context.js';
export * from './current-auth.decorator.js';
export * from './public.decorator.js';
export * from './security.module.js';
export * from './outbound/outbound-request.js';
export * from './outbound/private-addresses.js';
