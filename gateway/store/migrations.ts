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
  // Versions are applied in order; a version number is never reused (v3 is unused).
  {
    version: 2,
    name: 'console: users, sessions, audit log',
    up(db) {
      db.exec(`
        CREATE TABLE users (
          id TEXT PRIMARY KEY,
          username TEXT NOT NULL UNIQUE COLLATE NOCASE,
          display_name TEXT NOT NULL,
          role TEXT NOT NULL CHECK (role IN ('guard', 'installer', 'admin')),
          password_hash TEXT NOT NULL,
          disabled INTEGER NOT NULL DEFAULT 0,
          created_ms INTEGER NOT NULL,
          updated_ms INTEGER NOT NULL
        );
        -- Only a hash of the session token is kept: a copied database opens no session.
        CREATE TABLE sessions (
          token_hash TEXT PRIMARY KEY,
          user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
          created_ms INTEGER NOT NULL,
          last_seen_ms INTEGER NOT NULL,
          expires_ms INTEGER NOT NULL,
          ip TEXT
        );
        CREATE INDEX sessions_user ON sessions(user_id);
        CREATE INDEX sessions_expires ON sessions(expires_ms);
        -- Who saw or exported personal data, when and why. Append-only, hash-chained.
        CREATE TABLE audit_log (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          at_ms INTEGER NOT NULL,
          actor TEXT NOT NULL,
          role TEXT,
          action TEXT NOT NULL,
          target TEXT NOT NULL,
          reason TEXT,
          ip TEXT,
          details TEXT NOT NULL DEFAULT '{}',
          prev_hash TEXT NOT NULL,
          hash TEXT NOT NULL
        );
        CREATE INDEX audit_log_at ON audit_log(at_ms);
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
      `);
    },
  },
  {
    version: 4,
    name: 'cloud-sync',
    up(db) {
      db.exec(`
        -- Running totals per outbox class, kept by triggers in the same transaction as the rows, so
        -- the byte quota is checked on every enqueue without summing the table.
        CREATE TABLE outbox_totals (
          class INTEGER PRIMARY KEY,
          count INTEGER NOT NULL DEFAULT 0,
          bytes INTEGER NOT NULL DEFAULT 0,
          evicted INTEGER NOT NULL DEFAULT 0,
          expired INTEGER NOT NULL DEFAULT 0
        );
        INSERT INTO outbox_totals (class) VALUES (0), (1), (2), (3);
        UPDATE outbox_totals SET
          count = (SELECT COUNT(*) FROM outbox WHERE outbox.class = outbox_totals.class),
          bytes = (SELECT COALESCE(SUM(bytes), 0) FROM outbox WHERE outbox.class = outbox_totals.class);
        CREATE TRIGGER outbox_totals_insert AFTER INSERT ON outbox BEGIN
          UPDATE outbox_totals SET count = count + 1, bytes = bytes + NEW.bytes WHERE class = NEW.class;
        END;
        CREATE TRIGGER outbox_totals_delete AFTER DELETE ON outbox BEGIN
          UPDATE outbox_totals SET count = count - 1, bytes = bytes - OLD.bytes WHERE class = OLD.class;
        END;
        CREATE INDEX outbox_expiry ON outbox(expires_ms) WHERE expires_ms IS NOT NULL;

        -- Downlink commands already handled, with the result sent back: a command redelivered
        -- (persistent session, crash before PUBACK) is answered again, never applied twice.
        CREATE TABLE platform_commands (
          id TEXT PRIMARY KEY,
          type TEXT NOT NULL,
          issued_at TEXT,
          received_ms INTEGER NOT NULL,
          status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
          result TEXT NOT NULL
        );
        CREATE INDEX platform_commands_received ON platform_commands(received_ms);

        -- Rule parameters sent by the platform; the rule engine reads its rules at start-up.
        CREATE TABLE platform_rule_params (
          rule_id TEXT PRIMARY KEY,
          body TEXT NOT NULL,
          command_id TEXT NOT NULL,
          updated_ms INTEGER NOT NULL
        );
      `);
    },
  },
  {
    version: 5,
    name: 'media',
    up(db) {
      db.exec(`
        -- Face crops, plate crops and frames kept on the gateway; files live under dataDir/media.
        -- A periodic job deletes expired rows and their files (models/media-store.ts).
        CREATE TABLE media (
          id TEXT PRIMARY KEY,
          device_id TEXT NOT NULL,
          kind TEXT NOT NULL CHECK (kind IN ('face-crop', 'plate-crop', 'frame')),
          path TEXT NOT NULL,
          bytes INTEGER NOT NULL,
          created_ms INTEGER NOT NULL,
          expires_ms INTEGER NOT NULL,
          event_id TEXT
        );
        CREATE INDEX media_expires ON media(expires_ms);
        CREATE INDEX media_event ON media(event_id) WHERE event_id IS NOT NULL;

        -- Face embeddings of enrolled residents and watchlist subjects, matched 1:N by cosine.
        CREATE TABLE face_gallery (
          face_id TEXT PRIMARY KEY,
          model TEXT NOT NULL,
          dims INTEGER NOT NULL,
          vector BLOB NOT NULL,
          created_ms INTEGER NOT NULL
        );
      `);
    },
  },
];
