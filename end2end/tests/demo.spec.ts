import { expect, logInToDemo, ready, test } from './helpers';

// `premortem demo` on a fresh database (started by scripts/e2e.sh on its own port): a new
// user sees teams, changes in every status, the exam-queue story and charts with data.
const demo = process.env.DEMO_URL;

test('the demo data set makes a lived-in product', async ({ page }) => {
  test.skip(!demo, 'DEMO_URL is not set');
  await logInToDemo(page, 'rita', process.env.DEMO_RITA_PASSWORD ?? '');
  for (const status of ['draft', 'happy path working', 'failure cases complete']) {
    await expect(page.locator('ul[aria-label="Changes by status"]')).toContainText(status);
  }
  await expect(page.locator('table.portfolio')).toContainText('Move exam processing onto a queue');
  await expect(page.locator('.charts figure')).toHaveCount(4);
  await expect(page.locator('#trend-desc')).toContainText('RAD');
  // The exam queue's two incidents: one predicted (its design held), one missed.
  const learning = page.locator('ul[aria-label="Learning from incidents"]');
  await expect(learning).toContainText('50% predicted');
  await expect(learning).toContainText('1 of 2 classified');
  await expect(learning).toContainText('100% designs held');

  await page.goto(`${demo}/changes/RAD-1`);
  await ready(page);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Move exam processing onto a queue');
  await expect(page.locator('table.failure-modes')).toContainText('Backlog after a consumer or network outage');
  await expect(page.locator('table.failure-modes .chip.coverage-failing')).toHaveCount(1);
  await page.goto(`${demo}/teams`);
  await ready(page);
  for (const team of ['RAD', 'PM']) {
    await expect(page.getByRole('link', { name: team, exact: true })).toBeVisible();
  }
});
