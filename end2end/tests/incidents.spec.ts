import { expect, expectAccessible, logIn, logOut, ready, test } from './helpers';

// A member records an incident after a change on its page and classifies it missed: it
// becomes the change's next failure mode and a team template, in one step. A viewer reads it
// but has no form to classify with.

/** `YYYY-MM-DDTHH:MM` (UTC) `hours` from now, as a datetime-local field takes it. */
function at(hours: number): string {
  return new Date(Date.now() + hours * 3_600_000).toISOString().slice(0, 16);
}

test('a member records an incident after a change and turns the miss into a failure mode', async ({ page }) => {
  const project = `${test.info().project.name}-${test.info().repeatEachIndex}`;
  await logIn(page, 'amy', 'amy-password-1');
  await page.goto('/teams/QUE/changes/new');
  await ready(page);
  await page.getByLabel('Title').fill(`Exam workers (${project})`);
  await page.getByLabel('Queue / event-driven').check();
  await page.getByRole('button', { name: 'Register change' }).click();
  await expect(page).toHaveURL(/\/changes\/QUE-\d+$/);
  const key = page.url().split('/').pop() ?? '';
  await ready(page);
  await expect(page.getByText('No incidents recorded after this change.')).toBeVisible();

  // Recorded in the browser; a resolution before the start is refused beside its field.
  const record = page.locator('details', { hasText: 'Record an incident after this change' });
  await record.locator('summary').click();
  const title = `A poison exam crashed every worker (${project})`;
  await record.getByLabel('Title').fill(title);
  await record.getByLabel('Severity').selectOption('SEV2');
  await record.getByLabel('Started (UTC)').fill(at(-3));
  await record.getByLabel(/Resolved/).fill(at(-4));
  await record.getByRole('button', { name: 'Record incident' }).click();
  await expect(page.locator('#incident-resolved-error')).toContainText('cannot be resolved before it started');
  await expect(page.locator('li.incident')).toHaveCount(0);
  await ready(page);
  const again = page.locator('details', { hasText: 'Record an incident after this change' });
  if ((await again.getAttribute('open')) === null) await again.locator('summary').click();
  await again.getByLabel('Title').fill(title);
  await again.getByLabel('Severity').selectOption('SEV2');
  await again.getByLabel('Started (UTC)').fill(at(-3));
  await again.getByLabel(/Resolved/).fill(at(-2));
  await again.getByLabel(/incident tool/).fill(`INC-${project}`);
  await again.getByRole('button', { name: 'Record incident' }).click();
  const incident = page.locator('li.incident', { hasText: title });
  await expect(incident.locator('.chip.verdict-none')).toHaveText('Not classified yet');
  await expect(incident.locator('.chip.severity-sev2')).toHaveText('SEV2');
  await ready(page);
  if (test.info().project.name === 'js') await expectAccessible(page);

  // Missed: it becomes FM-1 of the change and a template for queue changes.
  await incident.getByLabel('Missed', { exact: true }).check();
  await expect(incident.getByLabel('Title')).toHaveValue(title);
  await incident.getByLabel(/Effect/).fill('Every exam waited until the poison exam was removed by hand');
  await incident.getByLabel(/team's templates/).check();
  await incident.getByRole('button', { name: 'Save classification' }).click();
  const classified = page.locator('li.incident', { hasText: title });
  await expect(classified.locator('.chip.verdict-missed')).toHaveText('Missed');
  await expect(classified.getByRole('link', { name: 'FM-1' })).toBeVisible();
  await expect(page.locator('table.failure-modes')).toContainText(title);
  await page.goto('/teams/QUE/templates');
  await expect(page.getByText(title).first()).toBeVisible();

  // The portfolio learns from it (with JavaScript off too): QUE's verdicts this quarter, the
  // queue type among those missed, and the chart of the prediction rate per quarter.
  await page.goto('/?team=QUE&window=quarter');
  await ready(page);
  await expect(page.getByRole('heading', { name: 'Learning from incidents' })).toBeVisible();
  await expect(page.locator('table.learning-teams tr[data-team="QUE"]')).toBeVisible();
  await expect(page.locator('table.learning-types')).toContainText('Queue');
  const chart = page.locator('figure.chart', { hasText: 'by quarter started' });
  await expect(chart.locator('svg.chart-svg:visible')).toHaveCount(1);
  await expect(chart.locator('svg.chart-svg:visible rect.bar.prediction')).toHaveCount(1);
  if (test.info().project.name === 'js') await expectAccessible(page);

  // A viewer reads the verdict, and may not classify.
  await logOut(page);
  await logIn(page, 'vic', 'vic-password-1');
  await page.goto(`/changes/${key}`);
  await expect(page.locator('li.incident', { hasText: title }).locator('.chip.verdict-missed')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Save classification' })).toHaveCount(0);
  await expect(page.getByText('Record an incident after this change')).toHaveCount(0);
});
