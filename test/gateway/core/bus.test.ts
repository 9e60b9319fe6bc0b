import { describe, expect, it } from 'vitest';
import { EventBus } from '../../../gateway/core/bus.ts';

describe('EventBus', () => {
  it('delivers to every listener; a failing listener is reported and does not stop the rest', () => {
    const failures: string[] = [];
    const bus = new EventBus<{ ping: number }>((event, error) => failures.push(`${event}:${(error as Error).message}`));
    const got: number[] = [];
    bus.on('ping', () => {
      throw new Error('broken channel');
    });
    bus.on('ping', (n) => got.push(n));
    bus.emit('ping', 7);
    expect(got).toEqual([7]);
    expect(failures).toEqual(['ping:broken channel']);
  });

  it('unsubscribes', () => {
    const bus = new EventBus<{ ping: number }>();
    const got: number[] = [];
    const off = bus.on('ping', (n) => got.push(n));
    bus.emit('ping', 1);
    off();
    bus.emit('ping', 2);
    expect(got).toEqual([1]);
    expect(bus.listenerCount('ping')).toBe(0);
  });
});
