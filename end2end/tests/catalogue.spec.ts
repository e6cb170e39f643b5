import { expect, logIn, ready, test } from './helpers';

// A queue change is offered the queue templates; an import with two bad rows imports
// nothing until they are fixed. Both are plain forms: the same with JavaScript off.

function csv(bad: number[]): string {
  const rows = ['title,scenario,severity,likelihood,detectability,designs,tests'];
  for (let i = 1; i <= 20; i++) {
    rows.push(`Failure ${i},"${i},000 exams queued",${bad.includes(i) ? 9 : 3},2,2,Runbook ${i},queue::case_${i}`);
  }
  return rows.join('\n');
}

test('a queue change gets queue templates, and an import is all or nothing', async ({ page }) => {
  const project = test.info().project.name;
  await logIn(page, 'amy', 'amy-password-1');
  await page.goto('/teams/QUE/changes/new');
  await ready(page);
  await page.getByLabel('Title').fill(`Scanner queue (${project})`);
  await page.getByLabel('Queue / event-driven').check();
  await page.getByRole('button', { name: 'Register change' }).click();
  await expect(page).toHaveURL(/\/changes\/QUE-\d+$/);
  await ready(page);
  const key = page.url().split('/').pop() ?? '';

  const suggestions = page.locator('details.suggestions');
  await expect(suggestions.locator('summary')).toContainText('How changes like this usually break');
  await expect(suggestions.getByText('Backlog after a consumer or network outage')).toBeVisible();
  await expect(suggestions.getByText('Rolling deployment / release')).toHaveCount(0);
  await suggestions.getByLabel(/Backlog after a consumer or network outage/).check();
  await suggestions.getByLabel(/No fast lane for an urgent item/).check();
  await suggestions.getByRole('button', { name: 'Add selected failure modes' }).click();
  await expect(page).toHaveURL(new RegExp(`/changes/${key}#failure-modes$`));
  await ready(page);
  await expect(page.locator('table.failure-modes tbody tr')).toHaveCount(2);
  await expect(page.locator('table.failure-modes')).toContainText('No fast lane for an urgent item');
  await page.getByRole('link', { name: 'FM-1' }).click();
  await ready(page);
  await expect(page.getByRole('heading', { name: /From the catalogue/ })).toBeVisible();

  await page.goto(`/changes/${key}/import`);
  await page.getByLabel('CSV or Markdown table').fill(csv([4, 17]));
  await page.getByRole('button', { name: 'Preview' }).click();
  await expect(page.getByRole('alert')).toHaveText(/2 of 20 rows have errors/);
  await expect(page.locator('tr.import-error')).toHaveCount(2);
  await expect(page.locator('tr.import-error').first()).toContainText('Severity');
  await expect(page.getByRole('button', { name: /Import \d+ failure modes/ })).toHaveCount(0);
  await page.goto(`/changes/${key}`);
  await ready(page);
  await expect(page.locator('table.failure-modes tbody tr')).toHaveCount(2);

  await page.goto(`/changes/${key}/import`);
  await page.getByLabel('CSV or Markdown table').fill(csv([]));
  await page.getByRole('button', { name: 'Preview' }).click();
  await page.getByRole('button', { name: 'Import 20 failure modes' }).click();
  await expect(page).toHaveURL(new RegExp(`/changes/${key}#failure-modes$`));
  await ready(page);
  await expect(page.locator('table.failure-modes tbody tr')).toHaveCount(22);
});
