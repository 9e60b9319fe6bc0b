import type { ReaderDeviceConfig } from '../../config/schema/serial.ts';
import type { Identity, SubjectRefs } from '../../gateway/core/model.ts';
import type { CommandResult, DeviceCommand } from '../driver.ts';
import type { BusTransaction } from './frame.ts';
import type { ReaderCodec, ReaderMessage } from './codecs/reader-codec.ts';
import { PolledDevice, type PolledDeviceDeps } from './polled-device.ts';

/** Looks a subject up in the registry and watchlist, as the pipeline will (gateway/identify). */
/** Who holds the card, as an access decision at device `deviceId` should see them (rules/watch-scope.ts). */
export type IdentifyFn = (refs: SubjectRefs, deviceId: string) => Identity | undefined;

export interface AccessDecision {
  granted: boolean;
  reason: string;
}

/**
 * The gateway decides, not the reader: residents and visitors within their validity pass,
 * unknown cards do not, and a watchlisted card is refused unless the site lets registered
 * watchlisted people through (the watchlist-hit alert is raised either way by the rules).
 */
export function decideAccess(identity: Identity | undefined, watchlisted: ReaderDeviceConfig['watchlisted']): AccessDecision {
  switch (identity?.kind) {
    case 'resident':
    case 'visitor':
      return { granted: true, reason: identity.kind };
    case 'watchlisted':
      if (watchlisted === 'grant-if-registered' && identity.personId) return { granted: true, reason: 'watchlisted, registered' };
      return { granted: false, reason: 'watchlisted' };
    default:
      return { granted: false, reason: 'unknown card' };
  }
}

/**
 * A polled RS-485 card reader. Each POLL carries the sequence number of the last event we
 * stored, so the reader keeps an event until it is durable on the gateway: a lost reply or a
 * gateway crash makes the reader send it again, and a repeat of the last sequence is not
 * stored twice.
 */
export class ReaderDevice extends PolledDevice {
  private readonly serial: ReaderDeviceConfig;
  private ackSeq: number | null = null;
  private lastHandledSeq: number | null = null;
  private more = false;

  constructor(
    deps: PolledDeviceDeps,
    private readonly codec: ReaderCodec,
    private readonly identify: IdentifyFn,
  ) {
    super(deps);
    this.serial = deps.device.serial as ReaderDeviceConfig;
  }

  async sendCommand(command: DeviceCommand): Promise<CommandResult> {
    try {
      switch (command.type) {
        case 'door.open': {
          const openMs = typeof command.params?.['ms'] === 'number' ? (command.params['ms'] as number) : this.serial.openMs;
          const reply = await this.exchange('grant', this.codec.grant(this.serial.address, openMs));
          return reply.kind === 'ack' ? { id: command.id, ok: true, data: { openMs } } : { id: command.id, ok: false, error: `reader answered ${reply.kind}` };
        }
        case 'ping':
          await this.pollNow();
          return { id: command.id, ok: this.failures === 0, ...(this.failures ? { error: 'no valid answer' } : {}) };
        default:
          return { id: command.id, ok: false, error: `a card reader does not take ${command.type}` };
      }
    } catch (error) {
      return { id: command.id, ok: false, error: (error as Error).message };
    }
  }

  protected override pollAgainSoon(): boolean {
    return this.more;
  }

  protected async poll(): Promise<void> {
    this.more = false;
    const message = await this.exchange('poll', this.codec.poll(this.serial.address, this.ackSeq));
    // The reader saw our ack: it dropped the event we stored.
    this.ackSeq = null;
    switch (message.kind) {
      case 'idle':
      case 'ack':
        return;
      case 'nak':
        this.deps.bus.countRefusal();
        this.deps.ctx.metrics.rejected.inc({ source: 'serial', reason: 'reader-nak' });
        this.deps.ctx.log.warn({ deviceId: this.id, code: message.code }, `serial ${this.deps.busConfig.id} reader ${this.id} refused a poll (NAK ${message.code})`);
        return;
      case 'swipe':
      case 'input':
        this.more = true;
        if (message.seq === this.lastHandledSeq) {
          // Our ack was lost: the reader repeats an event we already stored.
          this.ackSeq = message.seq;
          return;
        }
        if (message.kind === 'swipe') await this.onSwipe(message.cardNo, message.seq);
        else await this.ingest({ type: message.event, payload: { readerSeq: message.seq } });
        this.lastHandledSeq = message.seq;
        this.ackSeq = message.seq;
        return;
    }
  }

  private async onSwipe(cardNo: string, seq: number): Promise<void> {
    const subjects: SubjectRefs = { cardNo };
    const decision = decideAccess(this.identify(subjects, this.id), this.serial.watchlisted);
    // The person is waiting at the door: answer the reader first, then make the event durable.
    const frame = decision.granted ? this.codec.grant(this.serial.address, this.serial.openMs) : this.codec.deny(this.serial.address);
    let signalled = true;
    try {
      const reply = await this.exchange(decision.granted ? 'grant' : 'deny', frame);
      signalled = reply.kind === 'ack';
    } catch (error) {
      signalled = false;
      this.deps.ctx.log.warn({ deviceId: this.id, err: error }, `serial reader ${this.id}: decision for card not delivered: ${(error as Error).message}`);
    }
    await this.ingest({
      type: decision.granted ? 'access.granted' : 'access.denied',
      subjects,
      payload: { decidedBy: 'gateway', reason: decision.reason, readerSeq: seq, readerSignalled: signalled },
    });
  }

  private exchange(what: string, request: Uint8Array): Promise<ReaderMessage> {
    const address = this.serial.address;
    const tx: BusTransaction<ReaderMessage> = {
      deviceId: this.id,
      label: `reader ${address} ${what}`,
      request,
      parse: (received) => this.codec.parseReply(address, received, false),
      onTimeout: (received) => this.codec.parseReply(address, received, true),
    };
    return this.deps.bus.request(tx);
  }
}
