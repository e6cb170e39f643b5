import { expect, logIn, ready, test } from './helpers';

// Markup typed into fields and addresses must stay text while pages show it, with
// JavaScript on and off.
const PAYLOAD = `"'></textarea></title><img src=x onerror=alert(1)><script>alert(2)</script><svg onload=alert(3)>`;

test('hostile text in fields and addresses is shown as text and never runs', async ({ page }) => {
  const project = test.info().project.name;
  // A dialog or a browser error (a script the CSP blocked, say) fails the test: see helpers.

  await logIn(page, 'amy', 'amy-password-1');
  await page.goto('/teams/QUE/changes/new');
  await ready(page);
  const title = `Hostile ${project} ${PAYLOAD}`;
  await page.getByLabel('Title').fill(title);
  await page.getByLabel('Other').check();
  await page.getByLabel('Summary').fill(PAYLOAD);
  await page.getByRole('button', { name: 'Register change' }).click();
  await expect(page).toHaveURL(/\/changes\/QUE-\d+$/);
  await ready(page);
  const key = page.url().split('/').pop() ?? '';
  await expect(page.getByRole('heading', { level: 1 })).toContainText(title);

  const form = page.locator('details', { hasText: 'Add a failure mode' });
  if ((await form.getAttribute('open')) === null) {
    await form.locator('summary').click();
  }
  await form.getByLabel('Title', { exact: true }).fill(`FM ${PAYLOAD}`);
  await form.getByLabel(/Scenario/).fill(PAYLOAD);
  await form.getByLabel('Severity').fill('3');
  await form.getByLabel('Likelihood').fill('3');
  await form.getByLabel('Detectability').fill('3');
  await form.getByLabel(/Designs/).fill(PAYLOAD);
  await form.getByLabel(/Test selectors/).fill('queue::hostile');
  await form.getByRole('button', { name: 'Add failure mode' }).click();
  await expect(page.getByRole('link', { name: 'FM-1' })).toBeVisible();

  // The edit form puts the text back into text areas, exactly as typed.
  await page.goto(`/changes/${key}/fm/1`);
  await ready(page);
  await expect(page.getByLabel(/Scenario/)).toHaveValue(PAYLOAD);
  for (const path of [`/changes/${key}`, '/teams/QUE/changes', '/']) {
    await page.goto(path);
    await ready(page);
  }
  // The printable report is a plain document (no app to hydrate).
  await page.goto(`/changes/${key}/report`);
  await expect(page.getByRole('heading', { level: 1 })).toContainText(PAYLOAD);
  // Markup in the address, which also becomes the page's title.
  const hostilePath = encodeURIComponent(`</title>${PAYLOAD}`);
  for (const path of [`/changes/${hostilePath}`, `/teams/${hostilePath}`, `/changes/${hostilePath}/fm/1`]) {
    await page.goto(path);
    await ready(page);
    expect(await page.title()).toContain('</title>');
  }
});
