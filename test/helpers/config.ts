import { ConfigError, loadConfigText } from '../../config/load.ts';

/** The error lines a site file gets (`file:line path: message`), or [] when it is valid. */
export function configErrors(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfigText(text, 'site.yaml', env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message.split('\n').slice(1);
    throw error;
  }
  return [];
}

/** The `site:` section of a minimal valid site file, up to its gates (which each test adds). */
export const SITE_HEAD = `
site:
  gatewayId: gw-1
  communityName: 测试小区
  communityGridCode: CG350102001
  policeGridCode: PG350102600102
  policeStation: 测试派出所
  addressCode: AC3501020000
`;
