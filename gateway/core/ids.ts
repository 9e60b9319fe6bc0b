import { v7 } from 'uuid';

/** Time-sortable unique id (UUIDv7): sorts by creation time, unique across restarts. */
export function newId(): string {
  return v7();
}
