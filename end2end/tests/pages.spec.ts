import { type Browser } from '@playwright/test';
import { DEMO_DOCUMENTS, DEMO_PAGES, expect, expectAccessible, logInToDemo, ready, test, watchErrors } from './helpers';

// Every kind of page, on the demo data set (scripts/e2e.sh serves it on its own port): each
// meets WCAG 2.1 AA, and with JavaScript every one hydrates after every login.
const demo = process.env.DEMO_URL ?? '';


test('every kind of page meets WCAG 2.1 AA', async ({ page }) => {
  test.skip(!demo, 'DEMO_URL is not set');
  // axe-core runs in the page; without JavaScript the pages are the same server HTML.
  test.skip(test.info().project.name !== 'js', 'axe-core needs JavaScript');
  await page.goto(`${demo}/login`);
  await ready(page);
  await expectAccessible(page);
  await logInToDemo(page);
  for (const path of DEMO_PAGES) {
    await page.goto(`${demo}${path}`);
    await ready(page);
    await expectAccessible(page);
  }
  for (const path of DEMO_DOCUMENTS) {
    await page.goto(`${demo}${path}`);
    await expectAccessible(page);
  }
});

/** One fresh browser context: a login, then `paths`, each required to hydrate cleanly. */
async function visit(browser: Browser, paths: string[]): Promise<string[]> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watchErrors(page);
  await logInToDemo(page);
  for (const path of paths) {
    await page.goto(`${demo}${path}`);
    await ready(page);
  }
  await context.close();
  return errors;
}

test('with JavaScript, every page hydrates after every login', async ({ browser }) => {
  test.skip(!demo, 'DEMO_URL is not set');
  test.skip(test.info().project.name !== 'js', 'hydration needs JavaScript');
  test.setTimeout(600_000);
  // Logins in fresh contexts, each followed by three page kinds in turn: every kind six
  // times, besides the login and portfolio pages of every login.
  const logins = 2 * DEMO_PAGES.length;
  for (let i = 0; i < logins; i++) {
    const paths = [0, 1, 2].map((k) => DEMO_PAGES[(i * 3 + k) % DEMO_PAGES.length]);
    const errors = await visit(browser, paths);
    expect(errors, `login ${i + 1}: ${paths.join(', ')}`).toEqual([]);
  }
});
