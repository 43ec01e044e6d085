/** @vmi/input-gateway: secure input for guests (security connections, key capture, sealing, delivery). */
export { type GuestKeyboard, QmpKeyboard } from './capture/guest-keyboard.js';
export { placeholdersFor } from './capture/placeholders.js';
export { InputGatewayConfig } from './config.js';
export type { ConnectionSettings } from './connections/connection.js';
export { CONTROL_OPERATIONS, CONTROL_SERVICE, startControlService } from './control/control-service.js';
export { createGatewayIdentity, type GatewayIdentity } from './crypto/identity.js';
export { type BackoffOptions, backoffDelay } from './forward/backoff.js';
export { DEFAULT_SETTINGS, InputGateway, type InputGatewayOptions } from './gateway.js';
export { buildKeyEndpoint, isLoopback, listenKeyEndpoint } from './http/key-endpoint.js';
export { KEYS_ROUTE } from './http/key-routes.js';
