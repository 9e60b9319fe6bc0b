/**
 * Every feature (driver, rule, channel, uplink) is a Service: its constructor only stores
 * its dependencies; start() acquires resources and stop() releases them, in reverse order.
 */
export interface Service {
  readonly name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}
