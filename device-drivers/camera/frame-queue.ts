/** A snapshot waiting for analysis. */
export interface Frame {
  deviceId: string;
  jpeg: Buffer;
  /** When the camera took it (epoch ms): the topic's or the JSON part's time, else receipt. */
  capturedMs: number;
  receivedMs: number;
  via: 'mqtt' | 'http-push' | 'http-poll';
}

/**
 * A bounded per-camera queue. When analysis falls behind, the oldest frame is dropped (the
 * newest shows the scene as it is now) and counted, so a fast camera can never grow memory or
 * delay the others.
 */
export class FrameQueue {
  private frames: Frame[] = [];
  dropped = 0;
  accepted = 0;

  constructor(private readonly depth: number) {}

  /** Adds a frame; returns the frame dropped to make room, if any. */
  push(frame: Frame): Frame | null {
    this.accepted++;
    this.frames.push(frame);
    if (this.frames.length <= this.depth) return null;
    this.dropped++;
    return this.frames.shift()!;
  }

  shift(): Frame | undefined {
    return this.frames.shift();
  }

  get length(): number {
    return this.frames.length;
  }

  clear(): void {
    this.frames = [];
  }
}
