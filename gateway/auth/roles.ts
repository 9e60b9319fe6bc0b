/** Local console roles (docs/console.md). An admin may do everything the others may. */
export const ROLES = ['guard', 'installer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/**
 * What a route needs. Route modules name one in their route config (`config: { access }`);
 * the access hook (gateway/auth/access.ts) refuses a request without a session (401) or whose
 * role lacks the permission (403).
 */
/** `biometrics`: enrolling or removing face data in the gallery (admin only: guards read, they do not enrol). */
export const PERMISSIONS = ['alerts', 'events', 'people', 'status', 'devices', 'commands', 'users', 'config', 'audit', 'metrics', 'biometrics'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** `public`: no session needed (login, static console files). Anything else is a permission. */
export type Access = Permission | 'public' | 'session';

const GRANTS: Record<Role, ReadonlySet<Permission>> = {
  guard: new Set(['alerts', 'events', 'people', 'status']),
  installer: new Set(['devices', 'commands', 'status']),
  admin: new Set(PERMISSIONS),
};

export function roleMay(role: Role, permission: Permission): boolean {
  return GRANTS[role].has(permission);
}

export function permissionsOf(role: Role): Permission[] {
  return [...GRANTS[role]];
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
