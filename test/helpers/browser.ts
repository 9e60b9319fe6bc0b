import { chromium, type Browser, type Page } from 'playwright-core';
import type { LoggedIn } from './login.ts';

/**
 * Debian's headless Chromium. The flags keep it off the network this machine does not have
 * (background networking, component updates, sync) and let it run as root.
 */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/** Logs in through the console's own form, as a person would. */
export async function loginInBrowser(page: Page, httpUrl: string, who: Pick<LoggedIn, 'username' | 'password'>): Promise<void> {
  await page.goto(`${httpUrl}/`);
  await page.locator('#login-form').waitFor();
  await page.fill('#username', who.username);
  await page.fill('#password', who.password);
  await page.click('#login-form button[type=submit]');
  await page.locator('#top').waitFor({ state: 'visible' });
}
