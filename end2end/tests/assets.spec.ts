import { expect, test } from './helpers';

// What a first visit downloads from the release binary: the bundle on content-hashed routes
// that browsers may keep forever, sent compressed. (Sizes are a benchmark: `make bench`.)
test('the release bundle is hashed, immutable and compressed', async ({ page, request }) => {
  await page.goto('/login');
  const links = await page.evaluate(() =>
    Array.from(document.head.querySelectorAll('link[href^="/pkg/"]')).map((l) => l.getAttribute('href') ?? ''),
  );
  expect(links.some((href) => /^\/pkg\/premortem\.[0-9a-f]{16}\.css$/.test(href))).toBe(true);
  expect(links.some((href) => /^\/pkg\/premortem\.[0-9a-f]{16}\.js$/.test(href))).toBe(true);
  expect(links.some((href) => /^\/pkg\/premortem_bg\.[0-9a-f]{16}\.wasm$/.test(href))).toBe(true);

  for (const href of links) {
    for (const encoding of ['br', 'gzip']) {
      const response = await request.get(href, { headers: { 'Accept-Encoding': encoding } });
      expect(response.status(), href).toBe(200);
      expect(response.headers()['cache-control'], href).toBe('max-age=31536000, immutable');
      expect(response.headers()['content-encoding'], `${href} ${encoding}`).toBe(encoding);
    }
  }
});
