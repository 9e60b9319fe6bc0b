import { existsSync } from 'node:fs';
import { SerialPort } from 'serialport';
import type { SerialBusConfig } from '../../config/schema/serial.ts';
import type { Clock, TimerHandle } from '../../gateway/core/clock.ts';
import type { Logger } from '../../gateway/core/logger.ts';
import type { Metrics } from '../../gateway/core/metrics.ts';
import type { LinkHealth } from '../driver.ts';
import { hex, type BusTransaction } from './frame.ts';

/** The parts of a serialport stream the bus uses; SerialPort and SerialPortMock both fit. */
export interface SerialPortLike {
  readonly isOpen: boolean;
  open(callback: (error: Error | null) => void): void;
  close(callback?: (error: Error | null) => void): void;
  write(data: Buffer, callback?: (error: Error | null | undefined) => void): boolean;
  drain(callback: (error: Error | null) => void): void;
  set(options: { rts?: boolean; dtr?: boolean }, callback: (error: Error | null) => void): void;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'close', listener: (error?: Error & { disconnected?: boolean }) => void): unknown;
  removeAllListeners(): unknown;
}

export interface PortOptions {
  path: string;
  baudRate: number;
  dataBits: 7 | 8;
  parity: 'none' | 'even' | 'odd';
  stopBits: 1 | 2;
}

export type PortOpener = (options: PortOptions) => SerialPortLike;

export const openHardwarePort: PortOpener = (options) => new SerialPort({ ...options, autoOpen: false, lock: true }) as unknown as SerialPortLike;

/** The port is gone or the bus is stopping: the request was not (fully) exchanged. */
export class BusClosedError extends Error {
  readonly reason = 'bus-closed';
}

/** No valid reply after every retry. `reason` is the last failure: timeout, crc-error, truncated-frame… */
export class NoReplyError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** Bits one character takes on the wire: start bit, data bits, parity bit, stop bits. */
export function bitsPerChar(c: Pick<PortOptions, 'dataBits' | 'parity' | 'stopBits'>): number {
  return 1 + c.dataBits + (c.parity === 'none' ? 0 : 1) + c.stopBits;
}

/** t3.5: 3.5 character times, fixed at 1.75 ms above 19200 baud (Modbus over serial line §2.5.1.1). */
export function interFrameGapMs(c: PortOptions & { interFrameMs?: number | undefined }): number {
  if (c.interFrameMs !== undefined) return c.interFrameMs;
  if (c.baudRate > 19_200) return 1.75;
  return (3.5 * bitsPerChar(c) * 1000) / c.baudRate;
}

export function wireTimeMs(bytes: number, c: PortOptions): number {
  return (bytes * bitsPerChar(c) * 1000) / c.baudRate;
}

export interface BusDeps {
  config: SerialBusConfig;
  clock: Clock;
  metrics: Metrics;
  log: Logger;
  openPort?: PortOpener;
  /** Whether the device node still exists (a USB adapter pulled out leaves a dead fd); tests on mock ports override it. */
  portExists?(path: string): boolean;
  /** Told when the port comes up or goes away, so the driver can mark its devices. */
  onConnection?(connected: boolean, reason: string): void;
}

interface Queued {
  tx: BusTransaction<unknown>;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

interface InFlight {
  received: Buffer;
  settle(outcome: { ok: true; value: unknown } | { ok: false; reason: string; message: string }): void;
  tx: BusTransaction<unknown>;
}

/**
 * One RS-485 port shared by every device on it: a FIFO of request/reply exchanges with one on
 * the wire at a time, t3.5 silence before each request, a reply timeout and retries. When the
 * port errors or disappears it fails what is queued, reports the loss, and reopens with
 * exponential backoff until the port is back, without anyone restarting the gateway.
 */
export class SerialBus {
  readonly id: string;
  private port: SerialPortLike | null = null;
  private queue: Queued[] = [];
  private pumping = false;
  private inFlight: InFlight | null = null;
  private silenceWait: { timer: TimerHandle; resolve: () => void } | null = null;
  private stopped = true;
  private connected = false;
  private everConnected = false;
  private openFailureLogged = false;
  private reconnectTimer: TimerHandle | null = null;
  private backoffMs: number;
  /** When the line was last busy (a byte received or our frame finished sending), ms on the bus clock. */
  private lineBusyUntil = 0;
  private directionControl: 'auto' | 'rts' | 'refused';
  private stats = { framesOk: 0, framesBad: 0, reconnects: 0, timeouts: 0, exceptions: 0, lastFrameAt: null as string | null, lastError: null as string | null };
  private readonly gapMs: number;

  constructor(private readonly deps: BusDeps) {
    this.id = deps.config.id;
    this.backoffMs = deps.config.reconnectMinMs;
    this.directionControl = deps.config.direction;
    this.gapMs = interFrameGapMs(deps.config);
  }

  get isConnected(): boolean {
    return this.connected;
  }

  get interFrameMs(): number {
    return this.gapMs;
  }

  start(): void {
    this.stopped = false;
    this.open();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) this.deps.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.failAll(new BusClosedError(`bus ${this.id} stopping`));
    const port = this.port;
    this.port = null;
    this.connected = false;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
    port?.removeAllListeners();
  }

  /** Queues an exchange; resolves with the parsed reply. */
  request<T>(tx: BusTransaction<T>): Promise<T> {
    if (this.stopped) return Promise.reject(new BusClosedError(`bus ${this.id} is stopped`));
    if (!this.connected) return Promise.reject(new BusClosedError(`bus ${this.id} (${this.deps.config.path}) is not connected`));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ tx: tx as BusTransaction<unknown>, resolve: resolve as (v: unknown) => void, reject });
      void this.pump();
    });
  }

  /** Counts a valid reply that the device answered with a protocol-level refusal (Modbus exception, NAK). */
  countRefusal(): void {
    this.stats.exceptions++;
  }

  health(): LinkHealth {
    const { path, baudRate } = this.deps.config;
    const parts = [`${path} @ ${baudRate}`, `timeouts ${this.stats.timeouts}`, `exceptions ${this.stats.exceptions}`];
    if (this.directionControl === 'refused') parts.push('RTS direction control refused by the port (pty?): left to the adapter');
    if (!this.connected && this.stats.lastError) parts.push(`last error: ${this.stats.lastError}`);
    return {
      connected: this.connected,
      lastFrameAt: this.stats.lastFrameAt,
      framesOk: this.stats.framesOk,
      framesBad: this.stats.framesBad,
      reconnects: this.stats.reconnects,
      detail: parts.join('; '),
    };
  }

  private open(): void {
    if (this.stopped) return;
    const { config, log } = this.deps;
    const opener = this.deps.openPort ?? openHardwarePort;
    let port: SerialPortLike;
    try {
      port = opener({ path: config.path, baudRate: config.baudRate, dataBits: config.dataBits, parity: config.parity, stopBits: config.stopBits });
    } catch (error) {
      this.lost(`cannot create port: ${(error as Error).message}`);
      return;
    }
    this.port = port;
    port.on('data', (chunk) => this.onData(port, chunk));
    port.on('error', (error) => {
      if (this.port !== port) return;
      log.warn({ bus: this.id, path: config.path, err: error }, `serial bus ${this.id} (${config.path}): ${error.message}`);
      if (!port.isOpen) this.lost(error.message);
    });
    port.on('close', (error) => {
      if (this.port !== port || this.stopped) return;
      this.lost(error?.message ?? 'port closed');
    });
    port.open((error) => {
      if (this.port !== port || this.stopped) return;
      if (error) {
        this.lost(`cannot open ${config.path}: ${error.message}`);
        return;
      }
      this.connected = true;
      this.backoffMs = config.reconnectMinMs;
      this.lineBusyUntil = this.deps.clock.now();
      if (this.everConnected) this.stats.reconnects++;
      this.everConnected = true;
      log.info({ bus: this.id, path: config.path }, `serial bus ${this.id} open on ${config.path} (${config.baudRate} ${config.dataBits}${config.parity[0]!.toUpperCase()}${config.stopBits})`);
      this.deps.onConnection?.(true, 'port open');
    });
  }

  /** The port failed or vanished: fail pending work, tell the driver, and try again later. */
  private lost(reason: string): void {
    const port = this.port;
    this.port = null;
    const wasConnected = this.connected;
    this.connected = false;
    this.stats.lastError = reason;
    this.failAll(new BusClosedError(`bus ${this.id} (${this.deps.config.path}): ${reason}`));
    if (port) {
      port.removeAllListeners();
      port.on('error', () => {}); // a late error from a dead port must not crash the process
      if (port.isOpen) port.close(() => {});
    }
    if (wasConnected) {
      this.deps.log.warn({ bus: this.id, path: this.deps.config.path, reason }, `serial bus ${this.id} lost: ${reason}; reopening with backoff`);
      this.deps.onConnection?.(false, reason);
    } else if (!this.everConnected && !this.openFailureLogged) {
      // Missing at start-up (adapter unplugged, wrong path): say so once, then retry quietly.
      this.openFailureLogged = true;
      this.deps.log.warn({ bus: this.id, path: this.deps.config.path, reason }, `serial bus ${this.id}: ${reason}; retrying with backoff`);
    }
    if (this.stopped || this.reconnectTimer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.deps.config.reconnectMaxMs, this.backoffMs * 2);
    this.deps.log.debug({ bus: this.id, delay }, `serial bus ${this.id}: reopen in ${delay} ms`);
    this.reconnectTimer = this.deps.clock.setTimeout(() => {
      this.reconnectTimer = null;
      this.open();
    }, delay);
  }

  private failAll(error: Error): void {
    // An exchange waiting out t3.5 must notice the loss now, not when the gap ends.
    if (this.silenceWait) {
      this.deps.clock.clearTimeout(this.silenceWait.timer);
      this.silenceWait.resolve();
      this.silenceWait = null;
    }
    const inFlight = this.inFlight;
    this.inFlight = null;
    inFlight?.settle({ ok: false, reason: 'bus-closed', message: error.message });
    const queued = this.queue;
    this.queue = [];
    for (const q of queued) q.reject(error);
  }

  private onData(port: SerialPortLike, chunk: Buffer): void {
    if (this.port !== port) return;
    // Bytes from a device mean our own frame has left the line: the last activity is now.
    this.lineBusyUntil = this.deps.clock.now();
    const inFlight = this.inFlight;
    if (!inFlight) {
      this.stats.framesBad++;
      this.deps.metrics.rejected.inc({ source: 'serial', reason: 'unsolicited-bytes' });
      this.deps.log.debug({ bus: this.id, bytes: hex(chunk) }, `serial bus ${this.id}: ${chunk.length} bytes while no request was pending, dropped`);
      return;
    }
    inFlight.received = inFlight.received.length ? Buffer.concat([inFlight.received, chunk]) : Buffer.from(chunk);
    let result;
    try {
      result = inFlight.tx.parse(inFlight.received);
    } catch (error) {
      result = { status: 'bad' as const, reason: 'codec-error', message: (error as Error).message };
    }
    if (result.status === 'ok') inFlight.settle({ ok: true, value: result.value });
    else if (result.status === 'bad') inFlight.settle({ ok: false, reason: result.reason, message: result.message });
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length && this.connected) {
        const item = this.queue.shift()!;
        try {
          item.resolve(await this.exchange(item.tx));
        } catch (error) {
          item.reject(error as Error);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  /** One request with its retries. Bad frames and timeouts are counted here, once per attempt. */
  private async exchange(tx: BusTransaction<unknown>): Promise<unknown> {
    const { config, metrics, log } = this.deps;
    let last = { reason: 'timeout', message: '' };
    for (let attempt = 0; attempt <= config.retries; attempt++) {
      if (!this.connected || !this.port) throw new BusClosedError(`bus ${this.id} (${config.path}) is not connected`);
      const outcome = await this.attempt(this.port, tx);
      if (outcome.ok) {
        this.stats.framesOk++;
        this.stats.lastFrameAt = new Date(this.deps.clock.now()).toISOString();
        return outcome.value;
      }
      if (outcome.reason === 'bus-closed') throw new BusClosedError(outcome.message);
      last = outcome;
      if (outcome.reason === 'timeout') {
        this.stats.timeouts++;
        // A USB adapter pulled out, or socat gone: the node vanished but the fd may linger.
        if (!(this.deps.portExists ?? existsSync)(config.path)) {
          this.lost(`${config.path} disappeared`);
          throw new BusClosedError(`bus ${this.id}: ${config.path} disappeared`);
        }
      } else {
        this.stats.framesBad++;
      }
      metrics.rejected.inc({ source: 'serial', reason: outcome.reason });
      log.warn(
        { bus: this.id, deviceId: tx.deviceId, reason: outcome.reason, attempt: attempt + 1 },
        `serial ${this.id} ${config.path} device ${tx.deviceId} (${tx.label}): ${outcome.message} (attempt ${attempt + 1} of ${config.retries + 1})`,
      );
    }
    throw new NoReplyError(last.reason, `device ${tx.deviceId} on ${this.id} (${config.path}), ${tx.label}: ${last.message}`);
  }

  private async attempt(port: SerialPortLike, tx: BusTransaction<unknown>): Promise<{ ok: true; value: unknown } | { ok: false; reason: string; message: string }> {
    const { clock, config } = this.deps;
    await this.waitForSilence();
    if (this.port !== port || !this.connected) return { ok: false, reason: 'bus-closed', message: `bus ${this.id} closed` };
    return new Promise((resolve) => {
      let timer: TimerHandle | null = null;
      let settled = false;
      const inFlight: InFlight = {
        received: Buffer.alloc(0),
        tx,
        settle: (outcome) => {
          if (settled) return;
          settled = true;
          if (this.inFlight === inFlight) this.inFlight = null;
          if (timer) clock.clearTimeout(timer);
          timer = null;
          resolve(outcome as never);
        },
      };
      this.inFlight = inFlight;
      const request = Buffer.from(tx.request);
      const sendingMs = wireTimeMs(request.length, config);
      this.transmit(port, request)
        .then(() => {
          if (this.inFlight !== inFlight) return;
          this.lineBusyUntil = Math.max(this.lineBusyUntil, clock.now() + sendingMs);
          timer = clock.setTimeout(() => {
            const received = inFlight.received;
            if (received.length === 0) {
              inFlight.settle({ ok: false, reason: 'timeout', message: `no reply within ${config.timeoutMs} ms` });
              return;
            }
            const verdict = tx.onTimeout?.(received);
            if (verdict?.status === 'ok') inFlight.settle({ ok: true, value: verdict.value });
            else if (verdict?.status === 'bad') inFlight.settle({ ok: false, reason: verdict.reason, message: `${verdict.message}: ${hex(received)}` });
            else inFlight.settle({ ok: false, reason: 'truncated-frame', message: `incomplete reply of ${received.length} bytes: ${hex(received)}` });
          }, config.timeoutMs + sendingMs);
        })
        .catch((error: Error) => {
          inFlight.settle({ ok: false, reason: 'bus-closed', message: `write failed: ${error.message}` });
          if (this.port === port) this.lost(`write failed: ${error.message}`);
        });
    });
  }

  /** Waits until the line has been quiet for t3.5, measured on the injected clock. */
  private waitForSilence(): Promise<void> {
    const { clock } = this.deps;
    const wait = this.lineBusyUntil + this.gapMs - clock.now();
    if (wait <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = clock.setTimeout(() => {
        this.silenceWait = null;
        resolve();
      }, wait);
      this.silenceWait = { timer, resolve };
    });
  }

  private async transmit(port: SerialPortLike, request: Buffer): Promise<void> {
    const rts = this.directionControl === 'rts';
    if (rts) await this.setRts(port, true);
    await new Promise<void>((resolve, reject) => port.write(request, (error) => (error ? reject(error) : resolve())));
    if (rts) {
      // Release the line only after the UART shifted the last stop bit out, or the reply collides.
      await new Promise<void>((resolve, reject) => port.drain((error) => (error ? reject(error) : resolve())));
      await this.setRts(port, false);
    }
  }

  /**
   * RTS as the RS-485 driver enable. A pty (and some USB adapters with automatic direction
   * control) refuse the ioctl: then we say so once and leave direction to the hardware instead
   * of failing every request.
   */
  private setRts(port: SerialPortLike, on: boolean): Promise<void> {
    return new Promise((resolve) =>
      port.set({ rts: on }, (error) => {
        if (error && this.directionControl === 'rts') {
          this.directionControl = 'refused';
          this.deps.log.warn({ bus: this.id, path: this.deps.config.path, err: error }, `serial bus ${this.id}: the port refuses RTS (${error.message}); direction control left to the adapter`);
        }
        resolve();
      }),
    );
  }
}
