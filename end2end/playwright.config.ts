import { defineConfig } from '@playwright/test';

// Browsers are never downloaded: Debian's Chromium is used (see the Makefile's browser-tools).
export default defineConfig({
  testDir: './tests',
  workers: 1,
  // In CI a failed test gets one more try: about one run in five, the first page after a
  // login with JavaScript never finishes hydrating (see the closing note). A test that
  // fails twice still fails the run.
  retries: process.env.CI ? 1 : 0,
  timeout: 90_000,
  reporter: [['list']],
  use: {
    baseURL: process.env.BASE_URL ?? 'http://127.0.0.1:3000',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [
    { name: 'js', use: { javaScriptEnabled: true } },
    { name: 'nojs', use: { javaScriptEnabled: false } },
  ],
});
