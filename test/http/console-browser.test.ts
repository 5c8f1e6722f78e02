import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { CloseCode, ToT } from '../../src/protocol/index.js';
import { CENTRAL_KEY } from '../helpers/config.js';
import { device } from '../helpers/daemon.js';
import { startHttpDaemon } from '../helpers/http.js';
import { RawClient } from '../helpers/raw-client.js';

/** Debian's package (`apt-get install -y chromium`); .ci/run installs it. */
const CHROMIUM = '/usr/bin/chromium';
const WAIT_MS = 15_000;

async function launch(t: Test): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'iots-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`,
    ],
  });
  t.teardown(async () => {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  });
  return browser;
}

/** The text of each row of a table body, cells joined by " | ". */
const rows = (page: Page, tbody: string) => page.$$eval(`#${tbody} tr`, (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent).join(' | ')));

async function waitForRows(page: Page, tbody: string, what: string, ok: (rows: string[]) => boolean): Promise<string[]> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const now = await rows(page, tbody);
    if (ok(now)) return now;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; #${tbody} shows ${JSON.stringify(now)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Clicks the button in the row whose first cell is `first` (a real mouse click, through
 * puppeteer). The page redraws a table only when its data changed, but a poll landing between
 * finding the button and clicking it can still replace it: then find it again (3 tries).
 */
async function clickInRow(page: Page, tbody: string, first: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await clickOnce(page, tbody, first);
    } catch (err) {
      if (attempt === 3) throw err;
    }
  }
}

async function clickOnce(page: Page, tbody: string, first: string): Promise<void> {
  const button = await page.evaluateHandle((id, text) => {
    const doc = (globalThis as any).document;
    const tr = [...doc.querySelectorAll(`#${id} tr`)].find((r: any) => r.cells[0]?.textContent === text) as any;
    return tr?.querySelector('button') ?? null;
  }, tbody, first);
  const el = button.asElement();
  if (!el) throw new Error(`no button in the #${tbody} row of ${first}`);
  await el.click();
}

t.test('the web console in a real headless Chromium: lists a connected device, kicks it, lifts a ban', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.fail(`${CHROMIUM} is missing: install Debian's chromium (apt-get update && apt-get install -y chromium) to run this test`);
    return;
  }
  const kicked = device('dev-kick');
  const stays = device('<b>x</b>&amp;'); // markup in a UID must show as text
  const d = await startHttpDaemon(t, [kicked, stays], { over: { adminConsole: true } });
  const target = (await RawClient.open(d.port, kicked.uid, kicked.key)).client;
  const other = (await RawClient.open(d.port, stays.uid, stays.key)).client;
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  t.teardown(() => { target.close(); other.close(); central.close(); });
  // Fifteen wrong keys from 127.0.0.1: the sessions above stay, new ones from here would be refused.
  for (let i = 0; i < 15; i++) (await RawClient.open(d.port, kicked.uid, Buffer.alloc(16))).client.close();
  await new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error('no ip-banned log line')), WAIT_MS);
    const poll = setInterval(() => { if (d.logs.find('ip-banned').length) { clearInterval(poll); clearTimeout(deadline); resolve(); } }, 5);
  });

  const browser = await launch(t);
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${String(err)}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/404/.test(m.text())) problems.push(`console: ${m.text()}`); });
  const res = await page.goto(`${d.base}/console`, { waitUntil: 'load' });
  t.equal(res?.status(), 200);
  t.equal(await page.title(), 'IoTSocket console');
  t.equal(new URL(page.url()).search, '', 'no key in the URL');

  await page.type('#key', CENTRAL_KEY.toString('hex'));
  await page.keyboard.press('Enter');
  const listed = await waitForRows(page, 'sessions', 'both devices listed', (r) => r.some((x) => x.startsWith('dev-kick | Devices | object | connected | 127.0.0.1:')) && r.some((x) => x.startsWith('<b>x</b>&amp; |')));
  t.ok(listed.length >= 2, 'sessions listed');
  t.equal(await page.$$eval('#sessions b', (b) => b.length), 0, 'the UID with markup is text, not an element');
  // Runs in the page: the test's tsconfig has no DOM library, so its globals are reached through globalThis.
  t.equal(await page.evaluate(() => (globalThis as any).sessionStorage.getItem('iotsocket.console.key')), CENTRAL_KEY.toString('hex'), 'key kept in sessionStorage');
  t.equal(await page.$eval('#key', (i) => (i as any).value), '', 'and cleared from the field');
  const bans = await waitForRows(page, 'bans', 'the ban listed', (r) => r.some((x) => x.startsWith('127.0.0.1 |')));
  t.equal(bans.length, 1);
  const refusals = await waitForRows(page, 'refusals', 'refusals by reason', (r) => r.some((x) => x === 'handshake | bad-mac | 15'));
  t.ok(refusals.length >= 1, 'the 15 bad MACs counted under their reason');
  t.same((await waitForRows(page, 'acl', 'the ACL', (r) => r.length === 2)).sort(), ['<b>x</b>&amp; | Devices', 'dev-kick | Devices'], 'ACL without keys');
  t.notOk((await page.content()).includes(kicked.key.toString('hex')), 'no key anywhere in the page');

  if (process.env.IOTS_CONSOLE_SCREENSHOT) await page.screenshot({ path: process.env.IOTS_CONSOLE_SCREENSHOT, fullPage: true });

  await clickInRow(page, 'sessions', 'dev-kick');
  t.equal((await target.nextOf(ToT.CLOSE)).code, CloseCode.MAINTENANCE, 'the device is told Close 0x01');
  await waitForRows(page, 'sessions', 'the kicked device gone from the list', (r) => !r.some((x) => x.startsWith('dev-kick |')) && r.length >= 1);
  t.match(await page.$eval('#status', (s) => s.textContent), /session "dev-kick" ended/);
  t.equal(d.daemon.internals.sessions.get(kicked.uid), undefined, 'the daemon ended the session');

  await clickInRow(page, 'bans', '127.0.0.1');
  t.same(await waitForRows(page, 'bans', 'the ban lifted', (r) => r.length === 1 && r[0] === 'no IP is banned'), ['no IP is banned']);
  const again = await RawClient.open(d.port, kicked.uid, kicked.key);
  t.teardown(() => again.client.close());
  t.ok(again.accepted, 'the device authenticates again from 127.0.0.1');
  t.same(problems, [], 'no script error, no CSP violation');
});
