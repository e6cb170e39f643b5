import { expect, logIn, ready, test, watchErrors } from './helpers';

// Runs twice: project "js" (hydrated app) and project "nojs" (a plain link, forms and
// redirects). The provider is the tests' real one (oidc-provider, scripts/e2e.sh), whose
// development login form takes any login and password.

const adminPassword = process.env.ADMIN_PASSWORD ?? 'e2e-admin-password';

async function signInAtProvider(page: import('@playwright/test').Page, login: string) {
  await expect(page.locator('input[name="login"]')).toBeVisible();
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
}

test('a person signs in through the identity provider, lands where they were going, and comes back to the same account', async ({
  page,
  browser,
  baseURL,
  javaScriptEnabled,
}) => {
  const login = `sso-${test.info().project.name}-${test.info().repeatEachIndex}`;
  const errors = watchErrors(page);

  // An admin maps the provider's group "everyone" to viewers of QUE, in the browser.
  await logIn(page, 'admin', adminPassword);
  await page.goto('/admin/teams');
  await ready(page);
  await page.getByRole('textbox', { name: 'Provider group' }).fill('everyone');
  await page.getByLabel("Group's team").fill('QUE');
  await page.getByLabel('Role').selectOption('viewer');
  await page.getByRole('button', { name: 'Map group' }).click();
  await expect(page.locator('tr[data-group="everyone"]')).toContainText('viewer');
  await page.getByRole('button', { name: 'Log out' }).click();

  // A new person on their own device goes to a page, and is asked to sign in first.
  const device = await browser.newContext({ baseURL, javaScriptEnabled });
  const person = await device.newPage();
  const personErrors = watchErrors(person);
  await person.goto('/account');
  await expect(person).toHaveURL(/\/login\?next=%2Faccount$/);
  await ready(person);
  await person.getByRole('link', { name: 'Sign in with Example SSO' }).click();
  await signInAtProvider(person, login);

  await expect(person).toHaveURL(/\/account$/);
  await ready(person);
  await expect(person.locator('.account-username')).toHaveText(login);
  await expect(person.locator('.account-signs-in')).toContainText('Example SSO (last sign-in');
  await expect(person.getByLabel('Current password')).toHaveCount(0);
  // The group gave them QUE, which they may read.
  await person.goto('/teams/QUE');
  await ready(person);
  await expect(person.getByRole('heading', { level: 1 })).toContainText('QUE');

  // Signed out and in again: the provider remembers them, and it is the same account.
  await person.getByRole('button', { name: 'Log out' }).click();
  await expect(person).toHaveURL(/\/login$/);
  await ready(person);
  await person.getByRole('link', { name: 'Sign in with Example SSO' }).click();
  await expect(person).toHaveURL(/\/$/);
  await person.goto('/account');
  await ready(person);
  await expect(person.locator('.account-username')).toHaveText(login);

  // The admin sees how they sign in.
  await logIn(page, 'admin', adminPassword);
  await page.goto('/admin/users');
  await ready(page);
  await expect(page.locator(`tr[data-username="${login}"] .signs-in`)).toHaveText('Example SSO');

  await device.close();
  expect(errors).toEqual([]);
  expect(personErrors).toEqual([]);
});

test('a sign-in the provider cannot vouch for says so on the login page', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/auth/oidc/callback?code=forged&state=forged');
  await expect(page).toHaveURL(/\/login\?sso_error=expired$/);
  await ready(page);
  await expect(page.getByRole('alert')).toContainText('took too long or was started in another window');
  // The password form is still there beside the provider's button.
  await expect(page.getByLabel('Username')).toBeVisible();
  await expect(page.getByRole('link', { name: 'Sign in with Example SSO' })).toBeVisible();
  expect(errors).toEqual([]);
});
