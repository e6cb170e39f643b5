import { test as base, expect, type Page } from '@playwright/test';

/**
 * Playwright's `test`, failing any test during which a dialog (alert, confirm) opened, and
 * with the browser's errors (console errors and uncaught exceptions, such as a wasm panic
 * during hydration) printed when a test fails, so a failed CI run shows why a page did not
 * hydrate.
 */
export const test = base.extend({
  page: async ({ page }, use, testInfo) => {
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    // No page of Premortem opens a dialog: one that opens is user text running as script.
    const dialogs: string[] = [];
    page.on('dialog', async (dialog) => {
      dialogs.push(dialog.message());
      await dialog.dismiss();
    });
    await use(page);
    expect(dialogs, 'dialogs opened by the page').toEqual([]);
    if (testInfo.status !== testInfo.expectedStatus && errors.length > 0) {
      console.log(`browser errors in "${testInfo.title}":\n  ${errors.join('\n  ')}`);
    }
  },
});
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

export async function logOut(page: Page) {
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
}
