import { join } from 'node:path';
import { openDatabase, type Database, type OpenOptions } from './database.ts';
import { AlertsRepo } from './alerts.ts';
import { DevicesRepo } from './devices.ts';
import { InlineEventLog, ThreadEventLog, type EventLog } from './event-log.ts';
import { EventsRepo } from './events.ts';
import { MetaRepo } from './meta.ts';
import { OutboxRepo } from './outbox.ts';
import { RegistryRepo } from './registry.ts';
import { RuleStateRepo } from './rule-state.ts';
import { WriteQueue, type WriteQueueStats } from './write-queue.ts';

/**
 * SQLite is the source of truth. One main connection with its group-commit queue and one repo per
 * table group; device events are appended through `eventLog`, on a writer thread of their own
 * when the store was opened with `openThreaded`.
 */
export class Store {
  readonly writes: WriteQueue;
  readonly eventLog: EventLog;
  readonly events: EventsRepo;
  readonly alerts: AlertsRepo;
  readonly devices: DevicesRepo;
  readonly registry: RegistryRepo;
  readonly outbox: OutboxRepo;
  readonly ruleState: RuleStateRepo;
  readonly meta: MetaRepo;

  constructor(
    readonly db: Database,
    eventLog?: ThreadEventLog,
  ) {
    this.writes = new WriteQueue(db);
    this.events = new EventsRepo(db);
    this.alerts = new AlertsRepo(db);
    this.devices = new DevicesRepo(db);
    this.registry = new RegistryRepo(db);
    this.outbox = new OutboxRepo(db);
    this.ruleState = new RuleStateRepo(db);
    this.meta = new MetaRepo(db);
    if (eventLog) {
      this.writes.shareWith(eventLog);
      this.outbox.onConfigure((policy) => eventLog.configure(policy));
      this.eventLog = eventLog;
    } else this.eventLog = new InlineEventLog({ writes: this.writes, events: this.events, outbox: this.outbox });
  }

  /** Events committed on the calling thread (tools, tests, in-memory databases). */
  static open(file: string, options?: OpenOptions): Store {
    return new Store(openDatabase(file, options));
  }

  /** The gateway's store: device events are committed by a writer thread (see ThreadEventLog). */
  static async openThreaded(file: string, options: OpenOptions & { eventWriterModule?: URL } = {}): Promise<Store> {
    const db = openDatabase(file, options);
    if (file === ':memory:') return new Store(db);
    const eventLog = new ThreadEventLog({ file, synchronous: options.synchronous ?? 'FULL', module: options.eventWriterModule });
    try {
      await eventLog.start();
    } catch (error) {
      db.close();
      throw error;
    }
    // Checkpoints (copying the WAL into the database file, with an fsync) run on the writer thread
    // only: on the main thread one would stall the broker and the alerts for tens of ms.
    db.pragma('wal_autocheckpoint = 0');
    return new Store(db, eventLog);
  }

  static fileIn(dataDir: string): string {
    return join(dataDir, 'gridguard.db');
  }

  /** Commit statistics of every writer (the main queue and the event writer thread). */
  writeStats(): WriteQueueStats & { pending: number } {
    const main = this.writes.stats;
    const events = this.eventLog.stats;
    const pending = this.writes.pending + this.eventLog.pending;
    if (!events) return { ...main, pending };
    return {
      batches: main.batches + events.batches,
      writes: main.writes + events.writes,
      failed: main.failed + events.failed,
      largestBatch: Math.max(main.largestBatch, events.largestBatch),
      pending,
    };
  }

  /**
   * Caps the database file at `pages` pages on every connection (SQLite keeps the limit per
   * connection): beyond it commits fail as on a full disk.
   */
  async setMaxPageCount(pages: number): Promise<void> {
    this.db.pragma(`max_page_count = ${Math.floor(pages)}`);
    if (this.eventLog instanceof ThreadEventLog) await this.eventLog.pragma(`max_page_count = ${Math.floor(pages)}`);
  }

  /**
   * Commits what is queued on every writer, then closes. Without a writer thread this happens
   * before close() returns; with one, when the promise resolves.
   */
  close(): Promise<void> {
    const closeMain = () => {
      this.writes.close();
      this.db.close();
    };
    if (!(this.eventLog instanceof ThreadEventLog)) {
      closeMain();
      return Promise.resolve();
    }
    return this.eventLog.close().then(closeMain);
  }
}
