/**
 * Who may do what on the embedded broker. Devices log in as their own id and live under
 * devices/{id}/; guard-room clients read local alerts. Nothing else is allowed, except on a
 * site marked as a test bench, where anonymous "bench" clients (an external conformance suite)
 * get a sandbox that never touches the gateway's own topics.
 */
export type Principal = { role: 'device'; id: string } | { role: 'guard'; id: string } | { role: 'bench'; id: string };

/** Topic trees the gateway itself reads or writes: bench clients may neither inject into nor read them. */
const GATEWAY_TREES = ['devices/', 'local/'];

function inGatewayTree(topic: string): boolean {
  return GATEWAY_TREES.some((tree) => topic.startsWith(tree) || topic === tree.slice(0, -1));
}

export function mayPublish(who: Principal, topic: string): boolean {
  if (topic.startsWith('$')) return false;
  if (who.role === 'bench') return !inGatewayTree(topic);
  if (who.role !== 'device') return false;
  // Commands flow from the gateway to the device; the device only answers them.
  if (topic === `devices/${who.id}/commands/result`) return true;
  return topic.startsWith(`devices/${who.id}/`) && !topic.startsWith(`devices/${who.id}/commands`);
}

export function maySubscribe(who: Principal, filter: string): boolean {
  if (who.role === 'device') return filter === `devices/${who.id}/commands`;
  // A bench filter may still match gateway topics through wildcards (#, +/…); mayForward stops those messages.
  if (who.role === 'bench') return !inGatewayTree(filter);
  return filter === 'local/alerts/#' || /^local\/alerts\/(critical|high|medium|low|\+)$/.test(filter);
}

/** Last check before a message goes out to a subscriber: bench clients never see gateway traffic. */
export function mayForward(who: Principal | undefined, topic: string): boolean {
  if (!who) return false;
  if (who.role === 'bench') return !inGatewayTree(topic);
  return true;
}

/**
 * [MQTT-1.5.3-1] ill-formed UTF-8 and [MQTT-1.5.3-2] U+0000 must close the connection. The packet
 * parser decodes without checking, turning bad bytes into U+FFFD, so a topic holding U+FFFD is
 * treated as ill-formed (no real topic uses the replacement character).
 */
export function isWellFormedTopic(topic: string): boolean {
  return !/[\u0000\uFFFD]/.test(topic);
}
