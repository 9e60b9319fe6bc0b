import { join } from 'node:path';
import { openDatabase, type Database, type OpenOptions } from './database.ts';
import { AlertsRepo } from './alerts.ts';
import { DevicesRepo } from './devices.ts';
import { EventsRepo } from './events.ts';
import { MetaRepo } from './meta.ts';
import { OutboxRepo } from './outbox.ts';
import { RegistryRepo } from './registry.ts';
import { RuleStateRepo } from './rule-state.ts';
import { WriteQueue } from './write-queue.ts';

/** SQLite is the source of truth. One connection, one writer queue, one repo per table group. */
export class Store {
  readonly writes: WriteQueue;
  readonly events: EventsRepo;
  readonly alerts: AlertsRepo;
  readonly devices: DevicesRepo;
  readonly registry: RegistryRepo;
  readonly outbox: OutboxRepo;
  readonly ruleState: RuleStateRepo;
  readonly meta: MetaRepo;

  constructor(readonly db: Database) {
    this.writes = new WriteQueue(db);
    this.events = new EventsRepo(db);
    this.alerts = new AlertsRepo(db);
    this.devices = new DevicesRepo(db);
    this.registry = new RegistryRepo(db);
    this.outbox = new OutboxRepo(db);
    this.ruleState = new RuleStateRepo(db);
    this.meta = new MetaRepo(db);
  }

  static open(file: string, options?: OpenOptions): Store {
    return new Store(openDatabase(file, options));
  }

  static fileIn(dataDir: string): string {
    return join(dataDir, 'gridguard.db');
  }

  /** Keeps the WAL from growing without bound when readers pin old snapshots. */
  checkpoint(): void {
    this.db.pragma('wal_checkpoint(RESTART)');
  }

  close(): void {
    this.writes.close();
    this.db.close();
  }
}
