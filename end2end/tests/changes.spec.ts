import { type Page } from '@playwright/test';
import { expect, logIn, logOut, ready, test } from './helpers';

// The team QUE (amy: member, lena: lead, vic: viewer) and OPS (olaf: lead) are created by
// scripts/e2e.sh through the CLI. Each project (js, nojs) registers its own change.

async function addFailureMode(page: Page, title: string, selector: string) {
  const form = page.locator('details', { hasText: 'Add a failure mode' });
  if ((await form.getAttribute('open')) === null) {
    await form.locator('summary').click();
  }
  await form.getByLabel('Title', { exact: true }).fill(title);
  await form.getByLabel(/Scenario/).fill('10,000 exams queued after a 2-hour network outage');
  await form.getByLabel('Severity').fill('4');
  await form.getByLabel('Likelihood').fill('3');
  await form.getByLabel('Detectability').fill('2');
  await form.getByLabel(/Designs/).fill('Backpressure ADR https://wiki.example.com/adr-7');
  await form.getByLabel(/Test selectors/).fill(selector);
  await form.getByRole('button', { name: 'Add failure mode' }).click();
}

function isoDate(daysFromNow: number): string {
  return new Date(Date.now() + daysFromNow * 86_400_000).toISOString().slice(0, 10);
}

test('a member takes a change from registration to a gate that names what is missing', async ({ page }) => {
  const project = test.info().project.name;
  await logIn(page, 'amy', 'amy-password-1');
  await page.goto('/teams/QUE/changes');
  await ready(page);
  await page.getByRole('link', { name: 'New change' }).click();
  await ready(page);
  await page.getByLabel('Title').fill(`Exam queue (${project})`);
  await page.getByLabel('Queue / event-driven').check();
  await page.getByLabel('Summary').fill('Move exam processing onto a queue.');
  await page.getByRole('button', { name: 'Register change' }).click();
  await expect(page).toHaveURL(/\/changes\/QUE-\d+$/);
  await ready(page);
  const key = page.url().split('/').pop() ?? '';
  await expect(page.getByRole('heading', { level: 1 })).toContainText(`Exam queue (${project})`);
  await expect(page.getByText('That is not done: it starts the clock')).toBeVisible();

  await page.getByRole('button', { name: 'Record happy path working' }).click();
  await expect(page.getByText(`target ${isoDate(30)} (30 days left)`)).toBeVisible();

  await addFailureMode(page, 'Backlog after outage', 'queue::backlog_*');
  await expect(page.getByRole('link', { name: 'FM-1' })).toBeVisible();
  await addFailureMode(page, 'More workers make it slower', 'queue::scaling_shared_db');
  await expect(page.getByRole('link', { name: 'FM-2' })).toBeVisible();
  await addFailureMode(page, 'No fast lane for urgent exams', 'queue::priority_lane');
  await expect(page.getByRole('link', { name: 'FM-3' })).toBeVisible();

  const blockers = page.locator('.blockers li');
  await expect(blockers).toHaveText([
    'FM-1 “Backlog after outage” has no passing evidence yet for: queue::backlog_*.',
    'FM-2 “More workers make it slower” has no passing evidence yet for: queue::scaling_shared_db.',
    'FM-3 “No fast lane for urgent exams” has no passing evidence yet for: queue::priority_lane.',
  ]);
  await expect(page.locator('.sign-off-refusal')).toHaveText(/author cannot/);

  // Invalid input is explained next to its field and adds nothing.
  await addFailureMode(page, '   ', 'queue::x');
  await expect(page.locator('#fm-title-error')).toHaveText('Title is required.');
  await addFailureMode(page, 'Anything', '*');
  await expect(page.locator('#fm-selectors-error')).toContainText('needs at least 3 literal characters');
  await expect(page.getByRole('link', { name: /^FM-\d+$/ })).toHaveCount(3);

  // A viewer reads but cannot edit; a lead of another team cannot even read.
  await logOut(page);
  await logIn(page, 'vic', 'vic-password-1');
  await page.goto(`/changes/${key}`);
  await expect(page.getByRole('heading', { name: 'Failure modes' })).toBeVisible();
  await expect(page.getByText('Add a failure mode')).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Record happy path working' })).toHaveCount(0);
  await logOut(page);
  await logIn(page, 'olaf', 'olaf-password-1');
  await page.goto(`/changes/${key}`);
  // To another team the change does not exist.
  await expect(page.getByRole('alert')).toHaveText(`Change ${key} was not found.`);
});

test('a failure mode page shows its parts and saves edits', async ({ page }) => {
  const project = test.info().project.name;
  await logIn(page, 'amy', 'amy-password-1');
  await page.goto('/teams/QUE/changes/new');
  await ready(page);
  await page.getByLabel('Title').fill(`Release night rollout (${project})`);
  await page.getByLabel('Rolling deployment / release').check();
  await page.getByRole('button', { name: 'Register change' }).click();
  await expect(page).toHaveURL(/\/changes\/QUE-\d+$/);
  await ready(page);
  await addFailureMode(page, 'Step 3 cannot roll back', 'rollout::rollback_drill');
  await page.getByRole('link', { name: 'FM-1' }).click();
  await ready(page);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Step 3 cannot roll back');
  await expect(page.getByRole('link', { name: 'Backpressure ADR' })).toHaveAttribute('href', 'https://wiki.example.com/adr-7');
  await expect(page.locator('.chip.coverage-designed')).toBeVisible();

  const edit = page.locator('section', { has: page.getByRole('heading', { name: 'Edit' }) });
  await edit.getByLabel('Title', { exact: true }).fill('Step 3 of the rollout cannot roll back');
  await edit.getByLabel('Severity').fill('5');
  await edit.getByRole('button', { name: 'Save failure mode' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Step 3 of the rollout cannot roll back');
  await expect(page.locator('.chip.priority-high')).toBeVisible();
});

test('a member fixes a typo in an open change and writes its rollback plan', async ({ page }) => {
  const project = test.info().project.name;
  await logIn(page, 'amy', 'amy-password-1');
  await page.goto('/teams/QUE/changes/new');
  await ready(page);
  await page.getByLabel('Title').fill(`Schema migation (${project})`);
  await page.getByLabel('Data or schema migration').check();
  await page.getByRole('button', { name: 'Register change' }).click();
  await expect(page).toHaveURL(/\/changes\/QUE-\d+$/);
  await ready(page);
  const key = page.url().split('/').pop() ?? '';
  const rollback = page.locator('section.rollback-plan');
  await expect(rollback.getByText('None written yet.')).toBeVisible();

  await page.getByRole('link', { name: 'Edit details' }).click();
  await expect(page).toHaveURL(new RegExp(`/changes/${key}/edit$`));
  await ready(page);
  await expect(page.getByLabel('Title')).toHaveValue(`Schema migation (${project})`);
  await expect(page.getByLabel('Data or schema migration')).toBeChecked();
  // Bad input is explained next to its field and saves nothing.
  await page.getByLabel('Rollback runbook link').fill('javascript:alert(1)');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.locator('#change-rollback-url-error')).toContainText('http:// or https://');

  await page.getByLabel('Title').fill(`Schema migration (${project})`);
  await page.getByLabel(/Rollback plan/).fill('Run the down migration; the old columns are kept for a week.');
  await page.getByLabel('Rollback runbook link').fill('https://wiki.example.com/runbooks/migration');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page).toHaveURL(new RegExp(`/changes/${key}$`));
  await ready(page);
  await expect(page.getByRole('heading', { level: 1 })).toContainText(`Schema migration (${project})`);
  // The history (collapsed) holds the same text in its audit entry: look in the section.
  await expect(rollback.getByText('Run the down migration; the old columns are kept for a week.')).toBeVisible();
  await expect(page.locator('p.meta').getByRole('link', { name: 'Rollback runbook' })).toHaveAttribute(
    'href',
    'https://wiki.example.com/runbooks/migration',
  );
  await page.locator('summary', { hasText: 'History' }).click();
  await expect(page.locator('td', { hasText: 'change.update' })).toBeVisible();
});

test('the header search finds a change by a word of its title and goes straight to a key', async ({ page }) => {
  const project = test.info().project.name;
  const word = `zebra${project.replace(/\W/g, '')}${test.info().repeatEachIndex}`;
  await logIn(page, 'amy', 'amy-password-1');
  await page.goto('/teams/QUE/changes/new');
  await ready(page);
  await page.getByLabel('Title').fill(`Rollout of ${word}`);
  await page.getByLabel('Rolling deployment / release').check();
  await page.getByRole('button', { name: 'Register change' }).click();
  await expect(page).toHaveURL(/\/changes\/QUE-\d+$/);
  await ready(page);
  const key = page.url().split('/').pop() ?? '';

  const box = page.getByRole('searchbox', { name: /^Search changes/ });
  await box.fill(word.toUpperCase());
  await box.press('Enter');
  await expect(page).toHaveURL(/\/search\?q=/);
  await ready(page);
  await expect(page.getByRole('link', { name: `${key} Rollout of ${word}` })).toBeVisible();

  await page.getByRole('searchbox', { name: /^Search changes/ }).fill(key.toLowerCase());
  await page.getByRole('searchbox', { name: /^Search changes/ }).press('Enter');
  await expect(page).toHaveURL(new RegExp(`/changes/${key}$`));
  await ready(page);
  await expect(page.getByRole('heading', { level: 1 })).toContainText(`Rollout of ${word}`);
});
