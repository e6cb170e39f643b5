import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { expect, expectAccessible, logIn, logOut, ready, test } from './helpers';

// A lead adds a webhook on the team's page; a receiver on this machine verifies what arrives
// with the Standard Webhooks reference library and the secret the page showed once. The lead
// sends a test event, sends it again, pauses and resumes, rotates the secret and deletes.

/** What the receiver was sent: each delivery's `webhook-id`, type, and whether it verified. */
type Received = { id: string; type: string; verified: boolean };

/**
 * Listens on a free port; answers 410 Gone on a path under `/gone/`, else 204 to a delivery
 * signed by `secret.current` and 401 to any other.
 */
async function receiver(secret: { current: string }): Promise<{ server: Server; url: string; got: Received[] }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      let verified = false;
      let type = '';
      try {
        type = (new Webhook(secret.current).verify(body, headers) as { type: string }).type;
        verified = true;
      } catch {
        verified = false;
      }
      if (req.url?.startsWith('/gone/')) {
        res.writeHead(410).end();
        return;
      }
      got.push({ id: headers['webhook-id'] ?? '', type, verified });
      res.writeHead(verified ? 204 : 401).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got };
}

test('a lead adds a webhook, tests it, sends again, pauses, rotates its secret and deletes it', async ({ page }) => {
  const secret = { current: '' };
  const { server, url, got } = await receiver(secret);
  try {
    const hookUrl = `${url}/hooks/${test.info().project.name}-${test.info().repeatEachIndex}`;
    await logIn(page, 'lena', 'lena-password-1');
    await page.goto('/teams/QUE');
    await ready(page);
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Webhooks' })).toBeVisible();
    await ready(page);

    // A destination that is not https is refused, beside its field, and nothing is added.
    await page.getByLabel('Endpoint URL').fill('ftp://example.com/hook');
    await page.getByRole('button', { name: 'Add webhook' }).click();
    await expect(page.locator('#webhook-url-error')).toContainText('must use https, not ftp');
    await expect(page.locator('section.webhook', { hasText: 'example.com' })).toHaveCount(0);
    await ready(page);

    // It hears one chosen type only: the team's other changes (the earlier tests', which the
    // sweeper may find due or overdue at any minute) must not reach this receiver, whose
    // counts below are exact.
    await page.getByLabel('Endpoint URL').fill(hookUrl);
    await page.getByLabel('Every event, including types added later').uncheck();
    await page.getByLabel(/change\.signed_off/).check();
    await page.getByRole('button', { name: 'Add webhook' }).click();
    const shown = page.locator('code.secret');
    secret.current = ((await shown.textContent()) ?? '').trim();
    expect(secret.current).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    await expect(page.locator('#webhook-url-error')).toHaveCount(0);
    const card = page.locator('section.webhook', { hasText: hookUrl });
    await expect(card.locator('.chip.webhook-active')).toBeVisible();
    await expect(card).toContainText('change.signed_off');
    await expect(card).not.toContainText('every event');
    await page.goto('/teams/QUE/webhooks');
    await ready(page);
    await expect(page.locator('code.secret')).toHaveCount(0); // shown once

    // The test event arrives signed with that secret; its row says it was delivered.
    await card.getByRole('button', { name: 'Send a test event' }).click();
    const delivered = async () => {
      await page.goto('/teams/QUE/webhooks');
      return card.locator('tbody tr .chip.delivery-delivered').count();
    };
    await expect.poll(delivered, { timeout: 20_000 }).toBe(1);
    await expect(card.locator('tbody tr').first()).toContainText('webhook.test');
    await expect(card.locator('tbody tr').first()).toContainText('204');
    expect(got).toEqual([{ id: expect.stringMatching(/^msg_\d+$/), type: 'webhook.test', verified: true }]);
    await ready(page);
    if (test.info().project.name === 'js') await expectAccessible(page);

    // Sent again, it keeps its id, so the receiver can tell it is the same message.
    await card.getByRole('button', { name: 'Send again' }).click();
    await expect.poll(() => got.length, { timeout: 20_000 }).toBe(2);
    expect(got[1]).toEqual({ ...got[0] });

    await ready(page);
    await card.getByRole('button', { name: 'Pause' }).click();
    await expect(card.locator('.chip.webhook-paused')).toBeVisible();
    await ready(page);
    await card.getByRole('button', { name: 'Resume' }).click();
    await expect(card.locator('.chip.webhook-active')).toBeVisible();

    // A rotation with no overlap: only the new secret signs from now on.
    await ready(page);
    await card.getByLabel('Old secret keeps signing for (hours)').fill('0');
    await card.getByRole('button', { name: 'Rotate secret' }).click();
    const rotated = ((await page.locator('code.secret').textContent()) ?? '').trim();
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(secret.current);
    secret.current = rotated;
    await ready(page);
    await card.getByRole('button', { name: 'Send a test event' }).click();
    await expect.poll(() => got.length, { timeout: 20_000 }).toBe(3);
    expect(got[2]).toMatchObject({ type: 'webhook.test', verified: true });

    await ready(page);
    await card.getByRole('button', { name: 'Delete' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Webhooks' })).toBeVisible();
    await expect(card).toHaveCount(0);

    // An endpoint that answers 410 Gone is disabled; the team's page tells its leads, and
    // the webhook's card says why.
    const goneUrl = `${url}/gone/${test.info().project.name}-${test.info().repeatEachIndex}`;
    await ready(page);
    await page.getByLabel('Endpoint URL').fill(goneUrl);
    await page.getByLabel('Slack message').check();
    await page.getByRole('button', { name: 'Add webhook' }).click();
    await expect(page.locator('code.secret')).toHaveCount(0); // a Slack URL is its own secret
    const gone = page.locator('section.webhook', { hasText: `${url}/…` });
    await expect(gone.getByRole('button', { name: 'Rotate secret' })).toHaveCount(0);
    await ready(page);
    await gone.getByRole('button', { name: 'Send a test event' }).click();
    await expect
      .poll(async () => {
        await page.goto('/teams/QUE');
        return page.getByRole('alert').filter({ hasText: 'disabled one of the team' }).count();
      }, { timeout: 20_000 })
      .toBe(1);
    await page.getByRole('link', { name: 'see why' }).click();
    await expect(gone.getByRole('alert')).toContainText('answered 410 Gone');
    await expect(gone.locator('.chip.webhook-disabled')).toBeVisible();
    await ready(page);
    await gone.getByRole('button', { name: 'Delete' }).click();
    await expect(gone).toHaveCount(0);

    // A member of the team may not manage its webhooks.
    await logOut(page);
    await logIn(page, 'amy', 'amy-password-1');
    const refused = await page.goto('/teams/QUE/webhooks');
    expect(refused?.status()).toBe(403);
    await page.goto('/teams/QUE');
    await expect(page.getByRole('link', { name: 'Webhooks' })).toHaveCount(0);
  } finally {
    server.close();
  }
});
