import AxeBuilder from '@axe-core/playwright';
import { test as base, expect, type Page } from '@playwright/test';

/**
 * Playwright's `test`, failing any test during which a dialog (alert, confirm) opened or the
 * browser reported an error: a console error or an uncaught exception, such as a hydration
 * mismatch or a wasm panic. Tests that open pages in contexts of their own use
 * `watchErrors` for the same.
 */
export const test = base.extend({
  page: async ({ page }, use) => {
    const errors = watchErrors(page);
    // No page of Premortem opens a dialog: one that opens is user text running as script.
    const dialogs: string[] = [];
    page.on('dialog', async (dialog) => {
      dialogs.push(dialog.message());
      await dialog.dismiss();
    });
    await use(page);
    expect(dialogs, 'dialogs opened by the page').toEqual([]);
    expect(errors, 'browser errors (console errors, uncaught exceptions)').toEqual([]);
  },
});

/**
 * Collects a page's browser errors: console errors and uncaught exceptions. Chromium also
 * logs every 4xx reply as a console error ("Failed to load resource"); those are answers
 * the tests provoke on purpose (a 422 for invalid input, a 404 page) and assert on as a
 * user sees them, so they are not counted. A 5xx is.
 */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  const clientError = /^Failed to load resource: the server responded with a status of 4\d\d /;
  page.on('console', (m) => {
    if (m.type() === 'error' && !clientError.test(m.text())) {
      errors.push(`console: ${m.text()} (${m.location().url})`);
    }
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  return errors;
}

/** Fails on any WCAG 2.1 A or AA violation axe-core finds on the page as it is now. */
export async function expectAccessible(page: Page) {
  const { violations } = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  const found = violations.flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')} (${v.help})`));
  expect(found, `accessibility violations on ${page.url()}`).toEqual([]);
}
export { expect };

/** With JavaScript, waits until the wasm bundle has hydrated the page. */
export async function ready(page: Page) {
  if (test.info().project.name === 'js') {
    // The first load compiles the (debug) wasm bundle, which is slow on a busy machine.
    await page.locator('body[data-hydrated]').waitFor({ timeout: 60_000 });
  }
}

export async function logIn(page: Page, username: string, password: string) {
  await page.goto('/login');
  await ready(page);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page).toHaveURL(/\/$/);
}

/**
 * One page of each kind on the demo data set, app pages (hydrated with JavaScript) only:
 * PM-1, the widest change, and RAD-1, with evidence and failing tests.
 */
export const DEMO_PAGES = [
  '/',
  '/teams',
  '/teams/PM',
  '/teams/PM/changes',
  '/teams/PM/changes/new',
  '/teams/PM/ci',
  '/teams/PM/templates',
  '/teams/PM/webhooks',
  '/changes/PM-1',
  '/changes/PM-1/edit',
  '/changes/PM-1/import',
  '/changes/PM-1/fm/1',
  '/teams/RAD',
  '/changes/RAD-1',
  '/changes/RAD-1/fm/1',
  '/admin/users',
  '/admin/teams',
  '/account',
  '/search?q=queue',
  '/no/such/page',
];
/** The demo's plain documents, rendered without the app (nothing to hydrate). */
export const DEMO_DOCUMENTS = ['/changes/PM-1/report', '/changes/RAD-1/report'];

/**
 * Logs in to the demo instance (`premortem demo` on its own port, started by scripts/e2e.sh)
 * as one of its people, by default its admin; ends on the portfolio, hydrated.
 */
export async function logInToDemo(page: Page, username = 'demo-admin', password = process.env.DEMO_ADMIN_PASSWORD ?? '') {
  await page.goto(`${process.env.DEMO_URL ?? ''}/login`);
  await ready(page);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Portfolio' })).toBeVisible();
  await ready(page);
}

export async function logOut(page: Page) {
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
}
