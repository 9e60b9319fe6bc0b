import { describe, expect, it } from 'vitest';
import { FrameQueue, type Frame } from '../../../device-drivers/camera/frame-queue.ts';

const frame = (n: number): Frame => ({ deviceId: 'cam', jpeg: Buffer.from([n]), capturedMs: n, receivedMs: n, via: 'mqtt' });

describe('bounded frame queue', () => {
  it('drops the oldest frame beyond its depth and counts it', () => {
    const q = new FrameQueue(2);
    expect(q.push(frame(1))).toBeNull();
    expect(q.push(frame(2))).toBeNull();
    expect(q.push(frame(3))?.capturedMs).toBe(1);
    expect(q.push(frame(4))?.capturedMs).toBe(2);
    expect([q.length, q.dropped, q.accepted]).toEqual([2, 2, 4]);
    expect(q.shift()?.capturedMs).toBe(3);
  });
});
