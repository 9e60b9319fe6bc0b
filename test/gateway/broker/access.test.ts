import { describe, expect, it } from 'vitest';
import { mayPublish, maySubscribe } from '../../../gateway/broker/access.ts';

describe('broker ACL', () => {
  const device = { role: 'device' as const, id: 'ac-1' };
  const guard = { role: 'guard' as const, id: 'guard' };
  it('a device publishes only under its own topics, and never its own commands', () => {
    expect(mayPublish(device, 'devices/ac-1/events')).toBe(true);
    expect(mayPublish(device, 'devices/ac-1/commands/result')).toBe(true);
    expect(mayPublish(device, 'devices/ac-2/events')).toBe(false);
    expect(mayPublish(device, 'devices/ac-1/commands')).toBe(false);
    expect(mayPublish(device, 'local/alerts/high')).toBe(false);
    expect(mayPublish(device, '$SYS/x')).toBe(false);
  });
  it('a device subscribes only to its own commands; guards only to local alerts', () => {
    expect(maySubscribe(device, 'devices/ac-1/commands')).toBe(true);
    expect(maySubscribe(device, 'devices/ac-2/commands')).toBe(false);
    expect(maySubscribe(device, 'devices/#')).toBe(false);
    expect(maySubscribe(guard, 'local/alerts/#')).toBe(true);
    expect(maySubscribe(guard, 'local/alerts/critical')).toBe(true);
    expect(maySubscribe(guard, 'devices/+/events')).toBe(false);
    expect(mayPublish(guard, 'local/alerts/high')).toBe(false);
  });
});
