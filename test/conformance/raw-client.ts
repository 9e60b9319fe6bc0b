import { connect, type Socket } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { waitFor } from '../helpers/net.ts';

/**
 * A bare MQTT 3.1.1 connection for what mqtt.js will not do: send packets in any order, with any
 * flags or bytes, withhold acknowledgements, and see exactly which packets the broker returns.
 */
export class RawMqtt {
  readonly received: Packet[] = [];
  closed = false;
  private parser = mqttPacket.parser({ protocolVersion: 4 });
  private socket: Socket;
  parseError: Error | null = null;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.parser.on('packet', (p) => this.received.push(p));
    this.parser.on('error', (e) => (this.parseError = e));
    socket.on('data', (d) => this.parser.parse(d));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => (this.closed = true));
  }

  static open(port: number): Promise<RawMqtt> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => resolve(new RawMqtt(socket)));
      socket.once('error', reject);
    });
  }

  /** Opens, sends CONNECT and waits for the CONNACK. */
  static async connected(port: number, connect: Partial<mqttPacket.IConnectPacket> = {}): Promise<RawMqtt> {
    const raw = await RawMqtt.open(port);
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: '', keepalive: 60, ...connect } as Packet);
    const connack = await raw.next('connack');
    if ((connack as mqttPacket.IConnackPacket).returnCode !== 0) throw new Error(`CONNACK ${(connack as mqttPacket.IConnackPacket).returnCode}`);
    return raw;
  }

  send(packet: Packet): void {
    this.socket.write(mqttPacket.generate(packet));
  }

  sendBytes(bytes: Buffer | Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The next not yet taken packet of this type (optionally matching), waiting for it. */
  async next(cmd: Packet['cmd'], match: (p: any) => boolean = () => true, timeoutMs = 10_000): Promise<any> {
    const found = await waitFor(
      () => {
        const i = this.received.findIndex((p) => p.cmd === cmd && match(p));
        return i >= 0 ? this.received.splice(i, 1)[0] : undefined;
      },
      `${cmd} from the broker`,
      timeoutMs,
      5,
    );
    return found;
  }

  /** Takes every received packet of this type so far. */
  take(cmd: Packet['cmd']): any[] {
    const out = this.received.filter((p) => p.cmd === cmd);
    for (const p of out) this.received.splice(this.received.indexOf(p), 1);
    return out;
  }

  waitClosed(timeoutMs = 10_000): Promise<boolean> {
    return waitFor(() => this.closed, 'the broker to close the connection', timeoutMs);
  }

  /** Cuts the TCP connection without DISCONNECT (a device losing power). */
  kill(): void {
    this.socket.destroy();
  }

  end(): void {
    if (!this.closed) {
      this.send({ cmd: 'disconnect' });
      this.socket.end();
    }
  }
}
