/**
 * Who may do what on the embedded broker. Devices log in as their own id and live under
 * devices/{id}/; guard-room clients read local alerts. Nothing else is allowed.
 */
export type Principal = { role: 'device'; id: string } | { role: 'guard'; id: string };

export function mayPublish(who: Principal, topic: string): boolean {
  if (topic.startsWith('$')) return false;
  if (who.role !== 'device') return false;
  // Commands flow from the gateway to the device; the device only answers them.
  if (topic === `devices/${who.id}/commands/result`) return true;
  return topic.startsWith(`devices/${who.id}/`) && !topic.startsWith(`devices/${who.id}/commands`);
}

export function maySubscribe(who: Principal, filter: string): boolean {
  if (who.role === 'device') return filter === `devices/${who.id}/commands`;
  return filter === 'local/alerts/#' || /^local\/alerts\/(critical|high|medium|low|\+)$/.test(filter);
}
