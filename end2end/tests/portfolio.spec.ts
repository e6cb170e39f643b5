import { type Page } from '@playwright/test';
import { expect, logIn, logOut, ready, test } from './helpers';

// A member registers two changes, one whose happy path worked 40 days ago (overdue by now);
// a lead reads the portfolio, filters it to the team, shares the URL, opens the change, its
// report and the CSV. The charts render without JavaScript (a screenshot is kept).

function isoDate(daysFromNow: number): string {
  return new Date(Date.now() + daysFromNow * 86_400_000).toISOString().slice(0, 10);
}

async function registerChange(page: Page, title: string, workingSince: string | null): Promise<string> {
  await page.goto('/teams/QUE/changes/new');
  await ready(page);
  await page.getByLabel('Title').fill(title);
  await page.getByLabel('Rolling deployment / release').check();
  await page.getByRole('button', { name: 'Register change' }).click();
  await expect(page).toHaveURL(/\/changes\/QUE-\d+$/);
  await ready(page);
  const key = page.url().split('/').pop() ?? '';
  if (workingSince !== null) {
    await page.getByLabel('Working since (optional)').fill(workingSince);
  }
  await page.getByRole('button', { name: 'Record happy path working' }).click();
  await expect(page.getByRole('button', { name: 'Record happy path working' })).toHaveCount(0);
  return key;
}

test('a lead reads the portfolio, shares a filtered view, prints a report and exports CSV', async ({ page, context }) => {
  const project = test.info().project.name;
  await logIn(page, 'amy', 'amy-password-1');
  const late = await registerChange(page, `Release night rollout (${project})`, isoDate(-40));
  await expect(page.locator('.timeline .chip.overdue')).toHaveText('Overdue');
  const onTime = await registerChange(page, `Billing retry (${project})`, null);
  // A date in the future is refused, next to its field.
  await page.goto('/teams/QUE/changes/new');
  await ready(page);
  await page.getByLabel('Title').fill(`Not yet (${project})`);
  await page.getByLabel('Other').check();
  await page.getByRole('button', { name: 'Register change' }).click();
  await expect(page).toHaveURL(/\/changes\/QUE-\d+$/);
  await ready(page);
  await page.getByLabel('Working since (optional)').fill(isoDate(3));
  await page.getByRole('button', { name: 'Record happy path working' }).click();
  await expect(page.locator('#happy-on-error')).toHaveText('The date cannot be in the future.');
  await logOut(page);

  await logIn(page, 'lena', 'lena-password-1');
  await expect(page.getByRole('heading', { level: 1, name: 'Portfolio' })).toBeVisible();
  await ready(page);
  // Overdue changes come first.
  const rows = page.locator('table.portfolio tbody tr');
  const flags = await rows.evaluateAll((trs) => trs.map((tr) => tr.classList.contains('overdue-row')));
  expect(flags.indexOf(false) === -1 || flags.lastIndexOf(true) < flags.indexOf(false)).toBe(true);
  const lateRow = page.locator(`tr[data-key="${late}"]`);
  await expect(lateRow).toHaveClass(/overdue-row/);
  await expect(lateRow).toContainText('overdue by 10 days');
  await expect(page.locator(`tr[data-key="${onTime}"]`)).toContainText('in 30 days');

  // Filter to the team: the view is in the URL, and the URL shows the same view elsewhere.
  await page.getByLabel('Team', { exact: true }).selectOption('QUE');
  await page.getByLabel('Overdue only').check();
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(/team=QUE/);
  await expect(page).toHaveURL(/overdue=1/);
  await ready(page);
  await expect(page.locator(`tr[data-key="${late}"]`)).toBeVisible();
  await expect(page.locator(`tr[data-key="${onTime}"]`)).toHaveCount(0);
  const shared = page.url();
  const keys = async (p: Page) => p.locator('table.portfolio tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-key')));
  const mine = await keys(page);
  expect(mine).toContain(late);
  expect(mine).not.toContain(onTime);
  const other = await context.newPage();
  await other.goto(shared);
  await ready(other);
  expect(await keys(other)).toEqual(mine);
  await other.close();

  // The numbers match the change page.
  await lateRow.getByRole('link', { name: late }).click();
  await expect(page).toHaveURL(new RegExp(`/changes/${late}$`));
  await ready(page);
  await expect(page.locator('.timeline .chip.overdue')).toHaveText('Overdue');
  await expect(page.locator('.timeline li', { hasText: 'Happy path working' })).toContainText(isoDate(-40));

  // The printable report opens in a new tab.
  const [report] = await Promise.all([
    context.waitForEvent('page'),
    page.getByRole('link', { name: 'Printable report' }).click(),
  ]);
  await report.waitForLoadState();
  await expect(report.getByRole('heading', { level: 1 })).toContainText(`Release night rollout (${project})`);
  await expect(report.getByText(isoDate(-40)).first()).toBeVisible();
  await report.close();

  // The CSV has exactly the filtered view's rows.
  const csv = await page.request.get(`/portfolio.csv?${new URL(shared).search.slice(1)}`);
  expect(csv.status()).toBe(200);
  const lines = (await csv.text()).trim().split('\n');
  expect(lines[0]).toContain('change,team,title,status');
  expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(mine);
});

test('the charts render on the server and read without JavaScript', async ({ page }) => {
  await logIn(page, 'lena', 'lena-password-1');
  await page.goto('/?team=QUE');
  await ready(page);
  const charts = page.locator('.charts');
  await expect(charts.locator('figure')).toHaveCount(4);
  await expect(charts.locator('svg title').first()).toHaveText('Changes by status');
  await expect(page.locator('#funnel-desc')).toContainText('Happy path working');
  await charts.screenshot({ path: test.info().outputPath('charts.png') });
});
