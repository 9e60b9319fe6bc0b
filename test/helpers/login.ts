import { hashSecret } from '../../gateway/core/secrets.ts';
import { newId } from '../../gateway/core/ids.ts';
import { UsersRepo } from '../../gateway/auth/users.ts';
import type { Role } from '../../gateway/auth/roles.ts';
import type { TestGateway } from './gateway.ts';

export interface LoggedIn {
  username: string;
  password: string;
  role: Role;
  /** `gg_session=…`, for fetch headers and the SSE client. */
  cookie: string;
  headers: Record<string, string>;
}

let counter = 0;

/**
 * Creates a console user with this role directly in the gateway's store and logs in over HTTP,
 * as a browser would. Tests that call the API or the SSE stream pass `headers` along.
 */
export async function loginAs(gw: TestGateway, role: Role, username = `${role}-${process.pid}-${++counter}`): Promise<LoggedIn> {
  const password = `pw-${newId()}`;
  const users = new UsersRepo(gw.gateway.services.store.db);
  if (!users.findByUsername(username)) {
    const passwordHash = await hashSecret(password);
    await gw.gateway.services.store.writes.write(() => users.insert({ id: newId(), username, displayName: username, role, passwordHash }, Date.now()));
  } else {
    throw new Error(`loginAs: user ${username} exists already; pick another name`);
  }
  const res = await fetch(`${gw.httpUrl}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  if (res.status !== 200) throw new Error(`loginAs(${role}): login answered HTTP ${res.status} ${await res.text()}`);
  const setCookie = res.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0]!;
  if (!cookie.startsWith('gg_session=')) throw new Error(`loginAs(${role}): no session cookie in ${setCookie}`);
  return { username, password, role, cookie, headers: { cookie } };
}
