import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { runSsh } from '../helpers/openssh.js';
import { repoRoot } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';
import { randHex, startConsoleGateway, type ConsoleEnv } from './helpers.js';

// Page functions run in the browser.
declare const window: any;
declare const document: any;

const SHOTS = path.join(repoRoot, 'test-output', 'screenshots');
let env: ConsoleEnv;
let browser: Browser;
let agentToken: string;
const problems: string[] = [];
const tmp = tempDir('shellgate-web-');

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  env = await startConsoleGateway();
  agentToken = await env.gw.token('agent-1', ['agents']);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
});

after(async () => {
  await browser?.close();
  await env?.stop();
  tmp.cleanup();
});

const ssh = (command: string, extra?: string[]) =>
  runSsh({ port: env.gw.sshPort, knownHostsFile: env.gw.knownHostsFile, target: 'local', token: agentToken, command, ...(extra ? { extra } : {}) });

/** Console errors and page errors on the gateway's own pages (the provider's login page loads web fonts it cannot reach). */
function watch(page: Page): void {
  page.on('console', (m) => {
    if (m.type() === 'error' && m.location().url.startsWith(env.base)) problems.push(`console: ${m.text()} at ${m.location().url}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
}

async function signInBrowser(page: Page, user: string): Promise<void> {
  await page.goto(`${env.base}/sessions`);
  assert.match(page.url(), /\/login$/, 'anonymous pages lead to the sign-in page');
  await page.screenshot({ path: path.join(SHOTS, 'login.png') });
  await page.click('#signin');
  await page.waitForSelector('input[name="login"]');
  assert.ok(page.url().startsWith(env.idp.issuer), 'the sign-in happens at the provider');
  await page.fill('input[name="login"]', user);
  await page.fill('input[name="password"]', 'any');
  await Promise.all([page.waitForURL(`${env.base}/sessions`), page.click('button[type="submit"]')]);
}

async function apiJson(p: string): Promise<any> {
  const r = await fetch(env.base + p, { headers: { authorization: `Bearer ${env.gw.adminToken}` } });
  assert.equal(r.status, 200, `${p}: ${r.status}`);
  return r.json();
}

test('sign in, replay a session recorded through OpenSSH, seek from the timeline, search, approve, watch live', async () => {
  const tag = randHex();
  // Two commands on one SSH connection (OpenSSH multiplexing): one session, two recordings.
  const ctl = path.join(tmp.dir, 'ctl');
  const first = await ssh(`echo first-${tag}`, ['-T', '-o', 'ControlMaster=yes', '-o', `ControlPath=${ctl}`, '-o', 'ControlPersist=30']);
  assert.equal(first.code, 0, first.stderr);
  const second = await ssh(`printf 'second-%s\\n' ${tag}`, ['-T', '-o', 'ControlMaster=no', '-o', `ControlPath=${ctl}`]);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stdout.toString(), `second-${tag}\n`);
  await ssh('true', ['-T', '-o', `ControlPath=${ctl}`, '-O', 'exit']).catch(() => undefined);
  assert.equal((await ssh(`rm -r /tmp/nothing-${tag}`)).code, 126, 'a denied command, for the list');

  const page = await browser.newPage({ viewport: { width: 1360, height: 860 } });
  watch(page);
  await signInBrowser(page, 'carol');
  await page.waitForSelector('#sessions tbody tr a');
  await page.screenshot({ path: path.join(SHOTS, 'sessions.png'), fullPage: true });

  const sessions: any[] = await apiJson('/api/sessions');
  const multi = sessions.find((s) => s.commands === 2);
  assert.ok(multi, 'the multiplexed connection is one session with two commands');

  // The session page: the player shows the command's output; a click on the timeline seeks.
  await page.click(`a[href="/sessions/${multi.id}"]`);
  await page.waitForSelector('#player .ap-player, #player .ap-wrapper');
  await page.waitForFunction(() => typeof (window as any).shellgatePlayer?.getDuration() === 'number');
  const items = page.locator('#timeline li.allow');
  assert.equal(await items.count(), 2);
  const t2 = Number(await items.nth(1).getAttribute('data-t'));
  assert.ok(t2 > 0.4, `the second command starts after the first (${t2})`);
  const before = await page.evaluate(() => (window as any).shellgatePlayer.getCurrentTime());
  await items.nth(1).click();
  await page.waitForFunction((t) => Math.abs((window as any).shellgatePlayer.getCurrentTime() - t) < 0.3, t2);
  const after = await page.evaluate(() => (window as any).shellgatePlayer.getCurrentTime());
  assert.ok(after > before + 0.4, `the player moved from ${before} to ${after}`);
  // The end of the second command: both outputs are on the player's screen.
  await page.locator('#timeline li.result').nth(1).click();
  await page
    .waitForFunction((tag) => (document.querySelector('#player')?.textContent ?? '').includes('second-' + tag), tag, { timeout: 10_000 })
    .catch(async (err) => {
      await page.screenshot({ path: path.join(SHOTS, 'failure.png'), fullPage: true });
      throw new Error(`${(err as Error).message}; player text: ${await page.locator('#player').textContent()}; time ${await page.evaluate(() => window.shellgatePlayer.getCurrentTime())}`);
    });
  const screen = await page.locator('#player').textContent();
  assert.ok(screen!.includes(`first-${tag}`) && screen!.includes(`second-${tag}`), 'the player shows the output text');
  // Speed: the player is rebuilt at the chosen speed from where it was. Switched mid-recording,
  // at the second command's start (at the very end, play starts over, as players do).
  await items.nth(1).click();
  await page.waitForFunction((t) => Math.abs((window as any).shellgatePlayer.getCurrentTime() - t) < 0.3, t2);
  const atSwitch = await page.evaluate(() => (window as any).shellgatePlayer.getCurrentTime());
  const old = await page.evaluateHandle(() => (window as any).shellgatePlayer);
  await page.selectOption('#speed', '2');
  // Once its seek is done, the new player is where the old one was, not back at the start;
  // then it plays on. Read in the same call that awaits the seek.
  await page.waitForFunction((o) => (window as any).shellgatePlayer !== o, old);
  const resumedAt = (await page.evaluate(async () => {
    await (window as any).shellgatePlayerSeeked;
    return (window as any).shellgatePlayer.getCurrentTime();
  })) as number;
  assert.ok(resumedAt >= atSwitch - 0.05, `resumed at ${resumedAt}, switched at ${atSwitch}`);
  await page.waitForFunction((tag) => (document.querySelector('#player')?.textContent ?? '').includes('second-' + tag), tag);
  assert.match((await page.locator('#evidence').textContent())!, /verified/);
  await page.screenshot({ path: path.join(SHOTS, 'session.png'), fullPage: true });

  // Search finds the output and links to the moment in the recording.
  await page.goto(`${env.base}/search?q=second-${tag}`);
  const hit = page.locator('#hits li a').first();
  const href = (await hit.getAttribute('href'))!;
  assert.match(href, new RegExp(`^/sessions/${multi.id}\\?t=`));
  await page.screenshot({ path: path.join(SHOTS, 'search.png'), fullPage: true });
  await hit.click();
  await page.waitForFunction(() => typeof (window as any).shellgatePlayer?.getDuration() === 'number');
  const tHit = Number(new URL(page.url()).searchParams.get('t'));
  await page.waitForFunction((t) => Math.abs((window as any).shellgatePlayer.getCurrentTime() - t) < 0.3, tHit);

  // A pending approval, approved from the page: the waiting ssh command completes.
  const file = path.join(tmp.dir, `approved-${tag}`);
  const waiting = ssh(`touch ${file}`);
  let pending: any[] = [];
  for (let i = 0; i < 100 && pending.length === 0; i++) {
    pending = await apiJson('/api/approvals');
    if (!pending.length) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(pending.length, 1);
  await page.goto(`${env.base}/approvals`);
  const card = page.locator(`article.approval[data-id="${pending[0].id}"]`);
  await card.waitFor();
  await page.screenshot({ path: path.join(SHOTS, 'approvals.png'), fullPage: true });
  await card.locator('input[name="reason"]').fill('checked the path');
  await card.locator('button.approve').click();
  const done = await waiting;
  assert.equal(done.code, 0, done.stderr);
  assert.ok(existsSync(file), 'the approved command ran');
  await page.waitForSelector('#approvals .empty');
  const events = await (await fetch(`${env.base}/api/sessions/${pending[0].session}/events`, { headers: { authorization: `Bearer ${env.gw.adminToken}` } })).text();
  const decided = events.trim().split('\n').map((l) => JSON.parse(l)).find((e) => e.type === 'approval.decided');
  assert.equal(decided.via, 'web');
  assert.equal(decided.approver, 'carol');

  // Live view of a running session, then terminate it.
  // Printed once, before anyone watches: the live view shows it from the recording so far.
  const running = ssh(`sh -c 'echo live-${tag}; sleep 30'`);
  let live: any[] = [];
  for (let i = 0; i < 100 && live.length === 0; i++) {
    live = await apiJson('/api/live');
    if (!live.length) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(live.length, 1);
  await page.goto(`${env.base}/live`);
  await page.click(`a[href="/live/${live[0].session}"]`);
  await page.waitForSelector('#watch-status:text("watching")');
  await page.waitForSelector(`#terminal:has-text("live-${tag}")`);
  assert.equal(await page.locator('#terminal').getAttribute('contenteditable'), null, 'read-only');
  await page.screenshot({ path: path.join(SHOTS, 'live.png'), fullPage: true });
  await page.fill('#terminate input[name="reason"]', 'test over');
  await page.click('#terminate button');
  const ended = await running;
  assert.notEqual(ended.code, 0, 'the terminated command did not finish normally');
  await page.waitForSelector('#watch-status:text-matches("terminated|ended")');

  await page.close();
  assert.deepEqual(problems, [], 'no console errors on any page');
});
