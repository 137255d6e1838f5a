// The Mender routes the gateway treats specially: the device auth request (intercepted), the device API prefix
// (proxied) and the gateway's own status and ping routes on the mTLS port.
export const AUTH_PATH = '/api/devices/v1/authentication/auth_requests'
export const DEVICE_PREFIX = '/api/devices'
export const STATUS_PATH = '/status'
export const PING_PATH = '/ping'
