import type { RuleType } from '../rule-types.ts';
import { accessDeniedRepeat } from './access-denied-repeat.ts';
import { alarm } from './alarm.ts';
import { deviceOffline } from './device-offline.ts';
import { doorForced } from './door-forced.ts';
import { doorHeldOpen } from './door-held-open.ts';
import { watchlistHit } from './watchlist-hit.ts';

/** Every rule type the engine knows. A new rule type is one file here plus one line below. */
export const RULE_CATALOGUE: ReadonlyMap<string, RuleType<any>> = new Map(
  [watchlistHit, doorForced, doorHeldOpen, accessDeniedRepeat, alarm, deviceOffline].map((r) => [r.type, r]),
);

/** The rules a site gets when its file lists none: a gateway must never be silent by default. */
export const DEFAULT_RULES = [
  { id: 'watchlist-hit', type: 'watchlist-hit' },
  { id: 'door-forced', type: 'door-forced' },
  { id: 'door-held-open', type: 'door-held-open', params: { seconds: 60 } },
  { id: 'access-denied-repeat', type: 'access-denied-repeat', params: { count: 5, windowMinutes: 2 } },
  { id: 'alarm', type: 'alarm' },
  { id: 'device-offline', type: 'device-offline' },
];
