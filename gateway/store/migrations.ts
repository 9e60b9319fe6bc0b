import type { Database } from 'better-sqlite3';

/**
 * Forward-only, versioned migrations. Never edit a released one: add the next version.
 * The database is backed up before any pending migration runs on a non-empty database.
 */
export interface Migration {
  version: number;
  name: string;
  up(db: Database): void;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'foundation',
    up(db) {
      db.exec(`
        CREATE TABLE events (
          id TEXT PRIMARY KEY,
          device_id TEXT NOT NULL,
          type TEXT NOT NULL,
          device_time TEXT NOT NULL,
          received_ms INTEGER NOT NULL,
          subject_key TEXT,
          identity_kind TEXT,
          body TEXT NOT NULL
        );
        CREATE INDEX events_received ON events(received_ms);
        CREATE INDEX events_device ON events(device_id, received_ms);
        CREATE INDEX events_subject ON events(subject_key, received_ms) WHERE subject_key IS NOT NULL;
        CREATE INDEX events_type ON events(type, received_ms);

        CREATE TABLE alerts (
          id TEXT PRIMARY KEY,
          rule_id TEXT NOT NULL,
          severity TEXT NOT NULL,
          category TEXT NOT NULL,
          status TEXT NOT NULL,
          raised_ms INTEGER NOT NULL,
          updated_ms INTEGER NOT NULL,
          merge_key TEXT NOT NULL,
          last_trigger_ms INTEGER NOT NULL,
          body TEXT NOT NULL
        );
        CREATE INDEX alerts_merge ON alerts(rule_id, merge_key, last_trigger_ms);
        CREATE INDEX alerts_raised ON alerts(raised_ms);
        CREATE INDEX alerts_status ON alerts(status, raised_ms);

        -- Every change to an alert, in order: the SSE stream resumes from its seq (Last-Event-ID).
        CREATE TABLE alert_log (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          alert_id TEXT NOT NULL,
          change TEXT NOT NULL,
          at_ms INTEGER NOT NULL,
          body TEXT NOT NULL
        );

        CREATE TABLE devices (
          id TEXT PRIMARY KEY,
          online INTEGER NOT NULL DEFAULT 0,
          last_seen_ms INTEGER,
          status_changed_ms INTEGER,
          info TEXT NOT NULL DEFAULT '{}'
        );

        CREATE TABLE persons (
          id TEXT PRIMARY KEY,
          kind TEXT NOT NULL CHECK (kind IN ('resident', 'visitor')),
          name TEXT NOT NULL,
          care INTEGER NOT NULL DEFAULT 0,
          valid_from_ms INTEGER,
          valid_to_ms INTEGER,
          body TEXT NOT NULL
        );
        CREATE TABLE credentials (
          type TEXT NOT NULL CHECK (type IN ('card', 'plate', 'face')),
          value TEXT NOT NULL,
          person_id TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
          PRIMARY KEY (type, value)
        );
        CREATE INDEX credentials_person ON credentials(person_id);

        CREATE TABLE watchlist (
          id TEXT PRIMARY KEY,
          subject_type TEXT NOT NULL,
          subject_value TEXT NOT NULL,
          level TEXT NOT NULL,
          reason TEXT NOT NULL,
          valid_from_ms INTEGER,
          valid_to_ms INTEGER,
          body TEXT NOT NULL
        );
        CREATE INDEX watchlist_subject ON watchlist(subject_type, subject_value);

        -- Store-and-forward: a row leaves only when the platform broker acknowledged it.
        CREATE TABLE outbox (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          class INTEGER NOT NULL,
          kind TEXT NOT NULL,
          item_id TEXT NOT NULL,
          created_ms INTEGER NOT NULL,
          expires_ms INTEGER,
          bytes INTEGER NOT NULL,
          body TEXT NOT NULL
        );
        CREATE INDEX outbox_class ON outbox(class, seq);

        -- Durable rule state: windows, counters, timers (a restart changes no outcome).
        CREATE TABLE rule_state (
          rule_id TEXT NOT NULL,
          key TEXT NOT NULL,
          value TEXT NOT NULL,
          updated_ms INTEGER NOT NULL,
          PRIMARY KEY (rule_id, key)
        );

        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      `);
    },
  },
  // Each feature adds its migration at its own marker, in version order (gaps are fine):
  // [migration:v2-console]
  // [migration:v3-rules]
  // [migration:v4-cloud-sync]
  // [migration:v5-media]
];
