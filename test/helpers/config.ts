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
