import { type Page } from '@playwright/test';
import { DEMO_DOCUMENTS, DEMO_PAGES, expect, expectAccessible, logInToDemo, ready, test } from './helpers';

// Read on a desktop and on a phone, on the demo data set (scripts/e2e.sh serves it on its own
// port): the portfolio's charts have text a leader can read (12 px or more as rendered, not
// as written in the SVG), and no page is wider than a phone's screen.
const demo = process.env.DEMO_URL ?? '';

type Drawing = { shown: number; title: string; desc: string; rows: number; texts: { text: string; height: number; px: number }[] };

for (const width of [1366, 390]) {
  test(`the portfolio's charts read at ${width} px wide`, async ({ page }) => {
    test.skip(!demo, 'DEMO_URL is not set');
    await page.setViewportSize({ width, height: 900 });
    await logInToDemo(page);
    await expect(page.locator('.charts figure')).toHaveCount(4);
    const charts: Drawing[] = await page.locator('.charts figure').evaluateAll((figures) =>
      figures.map((figure) => {
        // Each chart is drawn for a desktop and for a phone; the stylesheet shows one.
        const shown = [...figure.querySelectorAll('svg')].filter((svg) => svg.getBoundingClientRect().width > 0);
        const svg = shown[0];
        // A scaled SVG scales its text: the font size as rendered is the written one times
        // the drawing's scale.
        const scale = svg ? svg.getBoundingClientRect().width / svg.viewBox.baseVal.width : 0;
        const texts = svg
          ? [...svg.querySelectorAll('text')].map((t) => ({
              text: t.textContent ?? '',
              height: t.getBoundingClientRect().height,
              px: parseFloat(getComputedStyle(t).fontSize) * scale,
            }))
          : [];
        return {
          shown: shown.length,
          title: svg?.querySelector('title')?.textContent ?? '',
          desc: svg?.querySelector('desc')?.textContent ?? '',
          rows: figure.querySelectorAll('details table tbody tr').length,
          texts,
        };
      }),
    );
    for (const chart of charts) {
      expect(chart.shown, `one drawing of "${chart.title}" is shown`).toBe(1);
      expect(chart.title).not.toBe('');
      expect(chart.desc).not.toBe('');
      expect(chart.rows, `"${chart.title}" has its numbers in a table`).toBeGreaterThan(0);
      expect(chart.texts.length, `"${chart.title}" has labels`).toBeGreaterThan(2);
      const small = chart.texts.filter((t) => t.height < 12 || t.px < 12).map((t) => `${t.text}: ${t.height}px high, ${t.px}px font`);
      expect(small, `labels of "${chart.title}" smaller than 12 px`).toEqual([]);
    }
    // Axes name what they count.
    const labels = charts.flatMap((c) => c.texts.map((t) => t.text));
    for (const axis of [
      'Number of changes',
      'Weighted coverage (%)',
      'Median days to sign-off, by month',
      'Incidents a failure mode had predicted, %',
    ]) {
      expect(labels).toContain(axis);
    }
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
    await page.locator('.charts').screenshot({ path: test.info().outputPath(`charts-${width}.png`) });
    // The tables of numbers, opened, meet WCAG 2.1 AA too (axe-core runs in the page).
    if (test.info().project.name === 'js') {
      for (const summary of await page.locator('.charts details > summary').all()) await summary.click();
      await expect(page.locator('.charts details table').first()).toBeVisible();
      await expectAccessible(page);
    }
  });
}


/** How far the page is wider than the window, and the elements that reach furthest out. */
async function overflow(page: Page) {
  return page.evaluate(() => {
    const width = window.innerWidth;
    const widest = [...document.body.querySelectorAll('*')]
      .map((e) => ({ e, right: e.getBoundingClientRect().right }))
      .filter(({ right }) => right > width + 0.5)
      .sort((a, b) => b.right - a.right)
      .slice(0, 3)
      .map(({ e, right }) => `<${e.tagName.toLowerCase()} class="${e.getAttribute('class') ?? ''}"> to ${Math.round(right)}px`);
    return { scrollWidth: document.documentElement.scrollWidth, width, widest };
  });
}

test('at 390 px wide no page scrolls sideways', async ({ page }) => {
  test.skip(!demo, 'DEMO_URL is not set');
  test.setTimeout(300_000);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${demo}/login`);
  await ready(page);
  const wide: string[] = [];
  const check = async (path: string) => {
    const o = await overflow(page);
    if (o.scrollWidth > o.width) wide.push(`${path}: ${o.scrollWidth}px (${o.widest.join(', ')})`);
  };
  await check('/login');
  await logInToDemo(page);
  for (const path of DEMO_PAGES) {
    await page.goto(`${demo}${path}`);
    await ready(page);
    await check(path);
  }
  for (const path of DEMO_DOCUMENTS) {
    await page.goto(`${demo}${path}`);
    await check(path);
    // Its scroll boxes can be reached and scrolled with the keyboard.
    if (test.info().project.name === 'js') await expectAccessible(page);
  }
  expect(wide, 'pages wider than the window').toEqual([]);
  // What is wider than the screen, the report's evidence tables, scrolls inside its own box.
  const scrolling = await page
    .locator('.table-scroll')
    .evaluateAll((boxes) => boxes.filter((b) => b.scrollWidth > b.clientWidth).length);
  expect(scrolling).toBeGreaterThan(0);
});
