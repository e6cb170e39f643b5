import { expect, logIn, logOut, ready, test } from './helpers';

// Runs twice: project "js" (hydrated app) and project "nojs" (plain HTML forms).
// Both run against one server, so names carry the project's name.

const adminPassword = process.env.ADMIN_PASSWORD ?? 'e2e-admin-password';

test('an admin sets up a team and a member, who then logs in', async ({ page }) => {
  const project = test.info().project.name;
  // Unique per repetition (`--repeat-each` runs against the same server).
  const attempt = test.info().repeatEachIndex;
  const slug = `${project === 'js' ? 'PAYJS' : 'PAYNOJS'}${attempt}`;
  const member = `mia-${project}-${attempt}`;

  await logIn(page, 'admin', adminPassword);
  await expect(page.getByRole('heading', { name: 'Portfolio' })).toBeVisible();

  await page.getByRole('link', { name: 'Admin teams' }).click();
  await ready(page);
  await page.getByLabel('Slug').fill(slug.toLowerCase());
  await page.getByLabel('Name').fill(`Payments (${project})`);
  await page.getByRole('button', { name: 'Create team' }).click();
  await expect(page.getByRole('link', { name: slug })).toBeVisible();

  await page.getByRole('link', { name: 'Users' }).click();
  await ready(page);
  await page.getByLabel('Username').fill(member);
  await page.getByLabel('Full name').fill('Mia Member');
  await page.getByLabel(/Initial password/).fill('mia-password-123');
  await page.getByRole('button', { name: 'Create user' }).click();
  await expect(page.locator(`tr[data-username="${member}"]`)).toContainText('active');

  await page.goto(`/teams/${slug}`);
  await ready(page);
  await page.getByLabel('Username').fill(member);
  await page.getByLabel('Role').selectOption('member');
  await page.getByRole('button', { name: 'Save membership' }).click();
  await expect(page.getByRole('cell', { name: member })).toBeVisible();

  await logOut(page);
  await logIn(page, member, 'mia-password-123');
  // A new team has no changes yet: the start page explains the method instead.
  await expect(page.getByText('No changes yet')).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Your teams' })).toBeVisible();
  await expect(page.getByRole('link', { name: slug })).toBeVisible();
  // A member is no admin: the admin pages refuse, and the navigation does not offer them.
  await expect(page.getByRole('link', { name: 'Users' })).toHaveCount(0);
  await page.goto('/admin/users');
  await expect(page.getByRole('alert')).toHaveText('You do not have permission to do that.');
});

test('a wrong password is reported next to the field', async ({ page }) => {
  await page.goto('/login');
  await ready(page);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password', { exact: true }).fill('not-the-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.locator('#password-error')).toHaveText('Username or password is incorrect.');
  await expect(page.getByLabel('Password', { exact: true })).toHaveAttribute('aria-describedby', 'password-error');
  await expect(page.getByRole('link', { name: 'Log in' })).toBeVisible();
});

test('invalid input on an admin form is explained and nothing is created', async ({ page }) => {
  await logIn(page, 'admin', adminPassword);
  await page.goto('/admin/teams');
  await ready(page);
  await page.getByLabel('Slug').fill('1-bad slug');
  await page.getByLabel('Name').fill('Bad');
  await page.getByRole('button', { name: 'Create team' }).click();
  await expect(page.locator('#team-slug-error')).toContainText('Slug must be 2 to 12 letters or digits');
  await expect(page.getByRole('link', { name: /1-BAD/i })).toHaveCount(0);
  if (test.info().project.name === 'js') {
    // The refused post comes back as the same page; with JavaScript, so does what was typed.
    await expect(page.getByLabel('Slug')).toHaveValue('1-bad slug');
    await expect(page.getByLabel('Name')).toHaveValue('Bad');
  }
});

test('with JavaScript the password can be revealed; without it no button pretends to', async ({ page }) => {
  await page.goto('/login');
  await ready(page);
  const password = page.getByLabel('Password', { exact: true });
  if (test.info().project.name !== 'js') {
    await expect(password).toHaveAttribute('type', 'password');
    await expect(page.getByRole('button', { name: 'Show' })).toHaveCount(0);
    return;
  }
  await expect(password).toHaveAttribute('type', 'password');
  await page.getByRole('button', { name: 'Show' }).click();
  await expect(password).toHaveAttribute('type', 'text');
  await page.getByRole('button', { name: 'Hide' }).click();
  await expect(password).toHaveAttribute('type', 'password');
});

test('the layout works on a phone-sized screen and by keyboard', async ({ page }) => {
  await page.setViewportSize({ width: 375, height: 700 });
  await page.goto('/no-such-page');
  await ready(page);
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to content' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.locator('main')).toBeFocused();
  await page.goto('/login');
  const form = await page.locator('form').boundingBox();
  expect(form && form.width <= 375).toBeTruthy();
});

test('a deep link opened logged out lands on its page after the login', async ({ page }) => {
  const deep = '/teams/QUE/changes?overdue=1';
  await page.goto(deep);
  await expect(page).toHaveURL(/\/login\?next=%2Fteams%2FQUE%2Fchanges%3Foverdue%3D1$/);
  await ready(page);
  // A refused attempt keeps where the user was going.
  await page.getByLabel('Username').fill('amy');
  await page.getByLabel('Password', { exact: true }).fill('not-amys-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.locator('#password-error')).toHaveText('Username or password is incorrect.');
  await ready(page);
  await page.getByLabel('Username').fill('amy');
  await page.getByLabel('Password', { exact: true }).fill('amy-password-1');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page).toHaveURL(new RegExp(`${deep.replace(/[?]/g, '\\?')}$`));
  await expect(page.getByRole('heading', { name: /Changes/ })).toBeVisible();
});
