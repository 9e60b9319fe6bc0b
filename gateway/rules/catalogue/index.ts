import type { RuleType } from '../rule-types.ts';
import { accessDeniedRepeat } from './access-denied-repeat.ts';
import { alarm } from './alarm.ts';
import { armedZoneIntrusion } from './armed-zone-intrusion.ts';
import { cameraTamper } from './camera-tamper.ts';
import { careAbsence } from './care-absence.ts';
import { deviceOffline } from './device-offline.ts';
import { doorForced } from './door-forced.ts';
import { doorHeldOpen } from './door-held-open.ts';
import { frequentStranger } from './frequent-stranger.ts';
import { groupRental } from './group-rental.ts';
import { tailgating } from './tailgating.ts';
import { vehicleOverstay } from './vehicle-overstay.ts';
import { watchlistHit } from './watchlist-hit.ts';

/** Every rule type the engine knows. A new rule type is one file here plus one line below. */
export const RULE_CATALOGUE: ReadonlyMap<string, RuleType<any>> = new Map(
  [
    watchlistHit,
    frequentStranger,
    careAbsence,
    groupRental,
    doorForced,
    doorHeldOpen,
    accessDeniedRepeat,
    tailgating,
    armedZoneIntrusion,
    alarm,
    deviceOffline,
    cameraTamper,
    vehicleOverstay,
  ].map((r) => [r.type, r]),
);

/**
 * The rules a site gets when its file lists none: a gateway must never be silent by default.
 * These are the immediate, site-independent ones. The community models (frequent stranger, care
 * absence, group rental, tailgating, perimeter, vehicle overstay) need thresholds, schedules and
 * circles chosen for the site, so a site turns them on explicitly (docs/rules.md).
 */
export const DEFAULT_RULES = [
  { id: 'watchlist-hit', type: 'watchlist-hit' },
  { id: 'door-forced', type: 'door-forced' },
  { id: 'door-held-open', type: 'door-held-open', params: { seconds: 60 } },
  { id: 'access-denied-repeat', type: 'access-denied-repeat', params: { count: 5, windowMinutes: 2 } },
  { id: 'alarm', type: 'alarm' },
  { id: 'device-offline', type: 'device-offline' },
  { id: 'camera-tamper', type: 'camera-tamper' },
];
