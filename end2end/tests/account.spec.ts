import { expect, logIn, ready, test, watchErrors } from './helpers';

// Runs twice: project "js" (hydrated app) and project "nojs" (plain HTML forms).

const adminPassword = process.env.ADMIN_PASSWORD ?? 'e2e-admin-password';

test('a user renames themself and changes their password, which signs out their other session', async ({
  page,
  browser,
  baseURL,
  javaScriptEnabled,
}) => {
  const project = test.info().project.name;
  const attempt = test.info().repeatEachIndex;
  const username = `ada-${project}-${attempt}`;

  await logIn(page, 'admin', adminPassword);
  await page.goto('/admin/users');
  await ready(page);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Full name').fill('Ada Account');
  await page.getByLabel(/Initial password/).fill('ada-password-123');
  await page.getByRole('button', { name: 'Create user' }).click();
  await expect(page.locator(`tr[data-username="${username}"]`)).toContainText('active');
  await page.getByRole('button', { name: 'Log out' }).click();

  // The same person on a second device.
  const phone = await browser.newContext({ baseURL, javaScriptEnabled });
  const other = await phone.newPage();
  const otherErrors = watchErrors(other);
  await logIn(other, username, 'ada-password-123');

  await logIn(page, username, 'ada-password-123');
  await page.getByRole('link', { name: 'Ada Account' }).click();
  await expect(page).toHaveURL(/\/account$/);
  await ready(page);
  await expect(page.getByRole('heading', { level: 1, name: 'Your account' })).toBeVisible();
  await expect(page.locator('.account-username')).toHaveText(username);

  await page.getByLabel('Your name as others see it').fill('Ada Lovelace');
  await page.getByRole('button', { name: 'Save name' }).click();
  await expect(page.getByRole('status')).toHaveText('Your display name is saved.');
  await expect(page.getByRole('link', { name: 'Ada Lovelace' })).toBeVisible();

  // A wrong current password is refused next to its field, and nothing changes.
  await page.getByLabel('Current password').fill('not-my-password');
  await page.getByLabel(/New password/).fill('ada-password-456');
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.locator('#current-password-error')).toHaveText('That is not your password.');
  await other.goto('/account');
  await expect(other.getByRole('heading', { level: 1, name: 'Your account' })).toBeVisible();

  await page.getByLabel('Current password').fill('ada-password-123');
  await page.getByLabel(/New password/).fill('ada-password-456');
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByRole('status')).toHaveText(
    'Your password is changed. Every other session of yours is signed out.',
  );
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: 'Your account' })).toBeVisible();

  // The other device is signed out; the old password no longer works, the new one does.
  await other.goto('/account');
  await expect(other).toHaveURL(/\/login\?next=%2Faccount$/);
  await ready(other);
  await other.getByLabel('Username').fill(username);
  await other.getByLabel('Password', { exact: true }).fill('ada-password-123');
  await other.getByRole('button', { name: 'Log in' }).click();
  await expect(other.locator('#password-error')).toHaveText('Username or password is incorrect.');
  await ready(other);
  await other.getByLabel('Username').fill(username);
  await other.getByLabel('Password', { exact: true }).fill('ada-password-456');
  await other.getByRole('button', { name: 'Log in' }).click();
  await expect(other).toHaveURL(/\/account$/);
  await expect(other.getByRole('link', { name: 'Ada Lovelace' })).toBeVisible();
  expect(otherErrors, 'browser errors on the second device').toEqual([]);
  await phone.close();
});

test('"sign out everywhere else" ends the other device\'s session and keeps this one', async ({
  page,
  browser,
  baseURL,
  javaScriptEnabled,
}) => {
  const username = `eve-${test.info().project.name}-${test.info().repeatEachIndex}`;
  const errors = watchErrors(page);
  await logIn(page, 'admin', adminPassword);
  await page.goto('/admin/users');
  await ready(page);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Full name').fill('Eve Elsewhere');
  await page.getByLabel(/Initial password/).fill('eve-password-123');
  await page.getByRole('button', { name: 'Create user' }).click();
  await expect(page.locator(`tr[data-username="${username}"]`)).toContainText('active');
  await page.getByRole('button', { name: 'Log out' }).click();

  const phone = await browser.newContext({ baseURL, javaScriptEnabled, userAgent: 'PhoneBrowser/1.0' });
  const other = await phone.newPage();
  const otherErrors = watchErrors(other);
  await logIn(other, username, 'eve-password-123');
  await logIn(page, username, 'eve-password-123');

  await page.goto('/account');
  await ready(page);
  const sessions = page.locator('table.sessions tbody tr');
  await expect(sessions).toHaveCount(2);
  await expect(page.locator('table.sessions tr[data-current="true"]')).toContainText('This session');
  await expect(page.locator('table.sessions tr[data-current="false"]')).toContainText('PhoneBrowser/1.0');
  await page.getByRole('button', { name: 'Sign out everywhere else' }).click();
  await expect(page.getByRole('status')).toHaveText('Every other session of yours is signed out.');
  await expect(sessions).toHaveCount(1);

  await other.goto('/account');
  await expect(other).toHaveURL(/\/login\?next=%2Faccount$/);
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: 'Your account' })).toBeVisible();
  expect(errors).toEqual([]);
  expect(otherErrors).toEqual([]);
  await phone.close();
});
