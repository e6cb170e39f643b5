import { expect, type Page, test } from '@playwright/test';

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
