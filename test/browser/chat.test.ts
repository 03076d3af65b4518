import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { WebPubSubServiceClient } from '@azure/web-pubsub';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { startLocalStack, type LocalStack } from '../../dev/stack';

/**
 * The demo page (web/) in headless Chromium against the whole local stack (emulator + Functions host +
 * chat app): two people chat, see each other online and typing, receive a push sent with plain HTTP, a
 * third is refused a room outside policy, and a dropped connection comes back visibly. Each step leaves a
 * screenshot in test-results/browser/.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = join(__dirname, '..', '..', 'test-results', 'browser');
const ROOMS = ['lobby', 'room.general', 'room.random', 'staff'];

let stack: LocalStack | undefined;
let browser: Browser | undefined;
let alice: Page;
let bob: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // The function sources (jest compiles them), so the test needs no `npm run build` of the app first.
  stack = await startLocalStack({ port: 0, emulatorPort: 0, entry: ['src/functions/*.ts'], log: () => {} });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in a container: Chromium's sandbox needs user namespaces it does not get.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}, 60000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

function baseUrl(): string {
  if (!stack) throw new Error('the local stack did not start');
  return stack.url;
}

/** Opens the page in its own browser context (own storage, like another person's browser) and signs in. */
async function signIn(name: string, startRooms: readonly string[]): Promise<Page> {
  if (!browser) throw new Error('Chromium did not start');
  const context = await browser.newContext({ viewport: { width: 1280, height: 760 } });
  // Under jest's 60 s per test, so a missing element fails with Playwright's own description of the wait.
  context.setDefaultTimeout(15000);
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(`${name}: ${error.message}`));
  await page.goto(`${baseUrl()}/`);
  await page.getByTestId('name-input').fill(name);
  for (const room of ROOMS) {
    await page.getByTestId(`start-room-${room}`).setChecked(startRooms.includes(room));
  }
  await page.getByTestId('sign-in-button').click();
  return page;
}

function status(page: Page, text: string): Locator {
  return page.locator('[data-testid="connection-status"]', { hasText: new RegExp(`^${text}$`) });
}

async function screenshot(page: Page, step: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${step}.png`), fullPage: true });
}

test('alice starts in room.general, bob joins it from the room list, and both see each other online', async () => {
  alice = await signIn('alice', ['lobby', 'room.general']);
  bob = await signIn('bob', ['lobby']);
  await status(alice, 'connected').waitFor();
  await status(bob, 'connected').waitFor();

  // Alice was put in room.general by negotiate; bob is not in it until he joins.
  await alice.getByTestId('leave-room.general').waitFor();
  await bob.getByTestId('join-room.general').click();
  await bob.getByTestId('leave-room.general').waitFor();
  await bob.getByTestId('current-room').filter({ hasText: 'room.general' }).waitFor();

  // Bob learns who is there from the join reply; alice learns of bob from the presence event.
  await bob.getByTestId('online-list').getByText('alice', { exact: true }).waitFor();
  await alice.getByTestId('room-room.general').click();
  await alice.getByTestId('online-list').getByText('bob', { exact: true }).waitFor();
  await screenshot(bob, '01-both-in-room-general');
});

test('typing shows on the other page, and a message from alice appears on bob’s', async () => {
  await alice.getByTestId('message-input').pressSequentially('Hello bob');
  await bob.getByTestId('typing').filter({ hasText: 'alice is typing…' }).waitFor();
  await screenshot(bob, '02-alice-typing');

  await alice.getByTestId('send-button').click();
  await bob.getByTestId('messages').getByText('Hello bob', { exact: true }).waitFor();
  // The message ends alice's typing line at once (same render), not after its 3 s.
  expect(await bob.getByTestId('typing').textContent()).toBe('');
  await alice.getByTestId('messages').getByText('Hello bob', { exact: true }).waitFor();
  await screenshot(bob, '03-message-received');
});

test('a push sent to everyone with the HTTP API shows as a notification on both pages', async () => {
  const response = await fetch(`${baseUrl()}/api/hubs/chat/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'Deploy', text: 'v2 is live' }),
  });
  expect(response.status).toBeLessThan(300);

  for (const page of [alice, bob]) {
    const notification = page.getByTestId('notifications').getByTestId('notification');
    await notification.filter({ hasText: 'v2 is live' }).waitFor();
    await notification.filter({ hasText: 'Deploy' }).waitFor();
  }
  await screenshot(alice, '04-push-notification');
});

test('a message in a room not on screen counts as unread until that room is shown', async () => {
  await alice.getByTestId('room-lobby').click();
  await alice.getByTestId('message-input').fill('Lobby news');
  await alice.getByTestId('send-button').click();
  const lobby = bob.getByTestId('room-lobby');
  await lobby.filter({ hasText: '1 unread' }).waitFor();
  await lobby.click();
  await bob.getByTestId('messages').getByText('Lobby news', { exact: true }).waitFor();
  expect(await lobby.textContent()).toBe('lobby');
  await bob.getByTestId('room-room.general').click();
  await alice.getByTestId('room-room.general').click();
});

test('a user asking for staff is refused at sign-in, and refused again when joining it later', async () => {
  const carol = await signIn('carol', ['lobby', 'staff']);
  const error = carol.getByTestId('sign-in-error');
  await error.filter({ hasText: '403' }).waitFor();
  expect(await error.textContent()).toContain('staff');
  expect(await carol.getByTestId('chat').isHidden()).toBe(true);
  await screenshot(carol, '05-staff-refused-at-sign-in');

  await carol.getByTestId('start-room-staff').setChecked(false);
  await carol.getByTestId('sign-in-button').click();
  await status(carol, 'connected').waitFor();
  await carol.getByTestId('join-staff').click();
  await carol.getByTestId('room-error').filter({ hasText: 'forbidden' }).waitFor();
  // Still not in it: the button offers to join, not to leave.
  await carol.getByTestId('join-staff').waitFor();
  await screenshot(carol, '06-staff-join-refused');

  // Presence both ways: alice sees carol arrive in the lobby, and leave when her browser closes.
  await alice.getByTestId('room-lobby').click();
  const carolOnline = alice.getByTestId('online-list').getByText('carol', { exact: true });
  await carolOnline.waitFor();
  await carol.context().close();
  await carolOnline.waitFor({ state: 'detached' });
  await alice.getByTestId('room-room.general').click();
});

test('a dropped connection shows "reconnecting…", comes back "connected", and messages flow again', async () => {
  // Record every status the page shows: the drop and the return may be quicker than any poll.
  await bob.evaluate(`(() => {
    const status = document.querySelector('[data-testid="connection-status"]');
    window.statusSeen = [];
    new MutationObserver(() => window.statusSeen.push(status.textContent)).observe(status, {
      childList: true, characterData: true, subtree: true,
    });
  })()`);
  let socketsOpened = 0;
  bob.on('websocket', () => (socketsOpened += 1));
  await bob.getByTestId('drop-connection').click();
  await bob.waitForFunction(`window.statusSeen.includes('reconnecting…')`);
  await status(bob, 'connected').waitFor();
  // A real reconnection: the page opened a new WebSocket after the drop.
  expect(socketsOpened).toBeGreaterThan(0);
  await screenshot(bob, '07-reconnected');

  await alice.getByTestId('message-input').fill('Still there?');
  await alice.getByTestId('send-button').click();
  await bob.getByTestId('messages').getByText('Still there?', { exact: true }).waitFor();
  // Bob is still in the room he joined after sign-in (the page re-joins after a new connection).
  await bob.getByTestId('leave-room.general').waitFor();
});

test('closed by the service, the page reconnects with a new connection and re-joins its rooms', async () => {
  if (!stack) throw new Error('the local stack did not start');
  const statusLine = bob.getByTestId('connection-status');
  const before = await statusLine.getAttribute('data-connection-id');
  expect(before).toBeTruthy();
  await bob.evaluate(`window.statusSeen = []`);

  // A service-side close ends the connection for good (no recovery): the SDK starts a new one, which begins
  // in the token's rooms only (lobby); room.general was joined later and must be joined again by the page.
  const service = new WebPubSubServiceClient(stack.connectionString, 'chat', {
    allowInsecureConnection: true,
  });
  await service.closeUserConnections('bob', { reason: 'browser test' });
  await bob.waitForFunction(`window.statusSeen.includes('reconnecting…')`);
  await bob
    .locator(`[data-testid="connection-status"][data-connection-id]:not([data-connection-id="${before}"])`)
    .waitFor();
  await status(bob, 'connected').waitFor();
  // The new connection's re-joins are marked pending in the same task as the new id; wait for them.
  await bob.locator('[data-testid="leave-room.general"]:not([disabled])').waitFor();

  const text = 'After the service closed bob';
  await alice.getByTestId('message-input').fill(text);
  await alice.getByTestId('send-button').click();
  await bob.getByTestId('messages').getByText(text, { exact: true }).waitFor();
  await screenshot(bob, '08-reconnected-after-service-close');
});

test('the pages raised no script errors', () => {
  expect(pageErrors).toEqual([]);
});
