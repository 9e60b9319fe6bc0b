import { Transform, type TransformCallback } from 'node:stream';

export class PacketTooLargeError extends Error {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`MQTT packet of ${size} bytes exceeds the limit of ${limit}`);
  }
}

export class MalformedLengthError extends Error {
  constructor() {
    super('malformed MQTT remaining length (more than 4 bytes)');
  }
}

/**
 * Reads MQTT fixed headers as bytes pass and fails on a packet whose remaining length exceeds
 * the limit, before the parser buffers it: a client cannot make the gateway allocate a 256 MB
 * packet by announcing one.
 */
export class MqttFrameGuard extends Transform {
  private state: 'type' | 'length' | 'body' = 'type';
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private remaining = 0;

  constructor(private readonly maxPacketBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'type') {
        i++;
        this.state = 'length';
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
      } else if (this.state === 'length') {
        const byte = chunk[i++]!;
        this.length += (byte & 0x7f) * this.multiplier;
        this.multiplier *= 128;
        this.lengthBytes++;
        if (byte & 0x80) {
          if (this.lengthBytes >= 4) return callback(new MalformedLengthError());
          continue;
        }
        if (this.length > this.maxPacketBytes) return callback(new PacketTooLargeError(this.length, this.maxPacketBytes));
        this.remaining = this.length;
        this.state = this.remaining === 0 ? 'type' : 'body';
      } else {
        const take = Math.min(this.remaining, chunk.length - i);
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) this.state = 'type';
      }
    }
    callback(null, chunk);
  }
}
