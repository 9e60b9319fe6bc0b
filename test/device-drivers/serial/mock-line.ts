import { pino } from 'pino';
import { SerialPortMock } from 'serialport';
import { SerialBusSchema, type SerialBusConfig } from '../../../config/schema/serial.ts';
import { FakeClock } from '../../../gateway/core/clock.ts';
import { Metrics } from '../../../gateway/core/metrics.ts';
import type { PortOpener, SerialPortLike } from '../../../device-drivers/serial/serial-bus.ts';

/**
 * A device on a @serialport/binding-mock port: every frame the gateway writes is handed to
 * `answer`, whose reply (if any) is injected back as received bytes. Each reopen of the path
 * gets a fresh SerialPortMock, as a real replug does.
 */
export class MockLine {
  readonly writes: Buffer[] = [];
  /** What happened on the line, in order. */
  readonly wire: ('request' | 'reply')[] = [];
  ports: SerialPortMock[] = [];
  answer: (request: Buffer) => Buffer | null = () => null;
  /** Makes set() fail like a pty does ("Inappropriate ioctl for device"). */
  refuseIoctl = false;
  rtsLog: boolean[] = [];

  constructor(readonly path: string) {
    MockLine.binding.createPort(path, { echo: false, record: true });
  }

  /**
   * The registry serialport itself uses. Importing @serialport/binding-mock directly gets its ESM
   * build, a second registry that SerialPortMock (CommonJS) never sees.
   */
  static readonly binding = SerialPortMock.binding;

  readonly opener: PortOpener = (options) => {
    const port = new SerialPortMock({ ...options, autoOpen: false });
    const write = port.write.bind(port) as (data: Buffer, cb?: (e?: Error | null) => void) => boolean;
    (port as unknown as { write: typeof write }).write = (data, cb) => {
      this.writes.push(Buffer.from(data));
      this.wire.push('request');
      const ok = write(data, cb);
      const reply = this.answer(Buffer.from(data));
      if (reply)
        setImmediate(() => {
          this.wire.push('reply');
          port.port?.emitData(reply);
        });
      return ok;
    };
    const set = port.set.bind(port);
    (port as unknown as { set: typeof set }).set = (opts, cb) => {
      if (this.refuseIoctl) {
        setImmediate(() => cb?.(new Error('Error: Inappropriate ioctl for device, cannot set')));
        return;
      }
      if (opts.rts !== undefined) this.rtsLog.push(opts.rts);
      set(opts, cb);
    };
    this.ports.push(port);
    return port as unknown as SerialPortLike;
  };

  get current(): SerialPortMock {
    return this.ports[this.ports.length - 1]!;
  }

  /** Bytes arriving from the device without a request. */
  inject(bytes: Buffer): void {
    this.current.port!.emitData(bytes);
  }

  /** The adapter vanishes: the stream closes with a disconnect error, as serialport reports it. */
  unplug(): void {
    (this.current as unknown as { _disconnected(e: Error): void })._disconnected(Object.assign(new Error('device disconnected'), { disconnected: true }));
  }
}

export function busConfig(overrides: Partial<SerialBusConfig> & { path: string }): SerialBusConfig {
  return SerialBusSchema.parse({ id: 'bus-1', ...overrides });
}

export function testKit() {
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
  return { clock: new FakeClock(), metrics: new Metrics(), log, logLines: lines };
}

/** Lets promise chains and setImmediate callbacks (mock I/O) run. */
export async function flush(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

export async function rejectedCount(metrics: Metrics, reason: string): Promise<number> {
  const data = await metrics.rejected.get();
  return data.values.filter((v) => v.labels.source === 'serial' && v.labels.reason === reason).reduce((n, v) => n + v.value, 0);
}
