import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { siteJsonSchema } from '../../config/export-schema.ts';

describe('config/site.schema.json', () => {
  it('is the current export of the schema (run `npm run schema` after changing config/schema/)', () => {
    const committed = JSON.parse(readFileSync(new URL('../../config/site.schema.json', import.meta.url), 'utf8'));
    expect(committed).toEqual(siteJsonSchema());
  });
});
