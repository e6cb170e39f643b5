import { expect, logIn, logOut, ready, test } from './helpers';

// A token made in the browser drives the CI API; evidence opens the gate, a lead signs
// off, and a later failing run marks the change regressed.

/** A JUnit report of the tests `e2e.<suite>::test_a…c`, with `failing` failed. */
function junit(suite: string, failing: string | null): string {
  const cases = ['a', 'b', 'c']
    .map((t) =>
      t === failing
        ? `<testcase classname="e2e.${suite}" name="test_${t}" time="0.01"><failure message="boom">trace</failure></testcase>`
        : `<testcase classname="e2e.${suite}" name="test_${t}" time="0.01"/>`,
    )
    .join('');
  return `<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="3">${cases}</testsuite></testsuites>`;
}

test('CI evidence opens the gate, a lead signs off, a failing run regresses the change', async ({ page, request }) => {
  const project = test.info().project.name;
  await logIn(page, 'admin', process.env.ADMIN_PASSWORD ?? 'e2e-admin-password');
  await page.goto('/teams/QUE/ci');
  await ready(page);
  // Unique per repetition (`--repeat-each` runs against the same server).
  const run = `${project}${test.info().repeatEachIndex}`;
  const name = `pipeline-${run}`;
  await page.getByLabel('Name').fill(name);
  await page.getByLabel(/changes:write/).check();
  await page.getByRole('button', { name: 'Create token' }).click();
  const token = (await page.locator('code.token').textContent())?.trim() ?? '';
  expect(token).toMatch(/^pmt_[0-9a-f]{40}_[0-9a-f]{8}$/);
  await page.reload();
  await expect(page.locator('code.token')).toHaveCount(0); // shown once
  await expect(page.getByRole('cell', { name })).toBeVisible();

  const auth = { Authorization: `Bearer ${token}` };
  const created = await request.post('/api/v1/changes', {
    headers: auth,
    data: { team: 'QUE', title: `Nightly import (${project})`, types: ['migration'] },
  });
  expect(created.status()).toBe(201);
  const key = (await created.json()).key as string;
  expect((await request.post(`/api/v1/changes/${key}/happy-path`, { headers: auth, data: {} })).status()).toBe(200);
  for (const t of ['a', 'b', 'c']) {
    const fm = await request.post(`/api/v1/changes/${key}/failure-modes`, {
      headers: auth,
      data: {
        title: `Import step ${t} fails halfway`,
        scenario: '2 million rows, killed at 60%',
        severity: 3, likelihood: 3, detectability: 2,
        designs: [{ title: 'Resumable import', url: 'https://wiki.example.com/import' }],
        tests: [`e2e.${run}::test_${t}`],
      },
    });
    expect(fm.status()).toBe(201);
  }
  const gateClosed = await request.get(`/api/v1/changes/${key}/gate?require=open`, { headers: auth });
  expect(gateClosed.status()).toBe(412);

  const upload = await request.post('/api/v1/runs?commit=abc123&branch=main', {
    headers: { ...auth, 'Content-Type': 'application/xml', 'Idempotency-Key': `${name}-1` },
    data: junit(run, null),
  });
  expect(upload.status()).toBe(201);
  const receipt = await upload.json();
  expect(receipt.matched.map((m: { coverage: string }) => m.coverage)).toEqual(['verified', 'verified', 'verified']);
  expect((await request.get(`/api/v1/changes/${key}/gate?require=open`, { headers: auth })).status()).toBe(200);

  // The token registered the change: it has no author until a person claims it, and the
  // admin whose token it is cannot be its second pair of eyes.
  await page.goto(`/changes/${key}`);
  await ready(page);
  await expect(page.locator('.meta')).toContainText(`API token “${name}” (no author yet)`);
  await expect(page.locator('.sign-off-refusal')).toContainText('no author yet');
  await logOut(page);
  await logIn(page, 'amy', 'amy-password-1');
  await page.goto(`/changes/${key}`);
  await ready(page);
  await page.getByRole('button', { name: 'Claim authorship' }).click();
  await expect(page.locator('.meta')).toContainText('by amy');
  await expect(page.getByRole('button', { name: 'Claim authorship' })).toHaveCount(0);
  await logOut(page);
  await logIn(page, 'admin', process.env.ADMIN_PASSWORD ?? 'e2e-admin-password');
  await page.goto(`/changes/${key}`);
  await ready(page);
  await expect(page.locator('.sign-off-refusal')).toContainText('registered with your API token');
  await logOut(page);
  await logIn(page, 'lena', 'lena-password-1');
  await page.goto(`/changes/${key}`);
  await ready(page);
  await expect(page.locator('.gate-verdict')).toContainText('Open.');
  await page.getByLabel('Re-enter your password to sign off').fill('lena-password-1');
  await page.getByRole('button', { name: 'Sign off failure cases complete' }).click();
  await expect(page.locator('.meta .chip').first()).toHaveText('Failure cases complete');
  await expect(page.locator('.sign-offs li')).toContainText('snapshot');

  const failing = await request.post('/api/v1/runs?commit=def456', {
    headers: { ...auth, 'Content-Type': 'application/xml', 'Idempotency-Key': `${name}-2` },
    data: junit(run, 'b'),
  });
  expect((await failing.json()).regressed).toEqual([key]);
  await page.goto(`/changes/${key}`);
  await expect(page.locator('.meta .chip').first()).toHaveText('Regressed');
  await page.getByRole('link', { name: 'FM-2' }).click();
  await expect(page.locator('.chip.outcome-failed')).toBeVisible();
});
