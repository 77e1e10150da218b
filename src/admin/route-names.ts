/**
 * The admin routes every instance serves (docs/admin-api.md), in a module of their own: the
 * control socket opens with them before the routes' code is loaded (at the first request).
 */
export const ADMIN_ROUTES = ['GET /status', 'GET /events', 'GET /metrics', 'POST /services/{name}/restart', 'POST /services/{name}/stop', 'POST /services/{name}/start', 'POST /stop'] as const;
