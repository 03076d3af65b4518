import { negotiate, signIn } from './api';
import { ChatConnection, type ConnectionStatus } from './connection';
import { byTestId, el, showMessage } from './dom';
import {
  describePush,
  membersOf,
  ROOMS,
  type ChatMessage,
  type EventReply,
  type RoomPayload,
} from './protocol';

/** How often a typing notice goes out while someone types, and how long one is shown. */
const TYPING_SEND_INTERVAL_MS = 2000;
const TYPING_SHOW_MS = 3000;
const DEFAULT_START_ROOMS = new Set(['lobby', 'room.general']);

type RoomState = {
  joined: boolean;
  /** A join is on its way (the Join/Leave button waits for the reply). */
  pending: boolean;
  /** Messages that arrived while another room was shown. */
  unread: number;
  messages: ChatMessage[];
  members: Set<string>;
  /** userId → the timer that hides their "is typing…" line. */
  typing: Map<string, ReturnType<typeof setTimeout>>;
};

const ui = {
  signIn: byTestId('sign-in', HTMLElement),
  signInForm: byTestId('sign-in-form', HTMLFormElement),
  name: byTestId('name-input', HTMLInputElement),
  roomChoices: byTestId('room-choices', HTMLDivElement),
  signInButton: byTestId('sign-in-button', HTMLButtonElement),
  signInError: byTestId('sign-in-error', HTMLParagraphElement),
  chat: byTestId('chat', HTMLElement),
  who: byTestId('signed-in-as', HTMLSpanElement),
  status: byTestId('connection-status', HTMLSpanElement),
  drop: byTestId('drop-connection', HTMLButtonElement),
  signOut: byTestId('sign-out', HTMLButtonElement),
  roomList: byTestId('room-list', HTMLUListElement),
  currentRoom: byTestId('current-room', HTMLHeadingElement),
  messages: byTestId('messages', HTMLOListElement),
  typing: byTestId('typing', HTMLParagraphElement),
  composer: byTestId('composer', HTMLFormElement),
  messageInput: byTestId('message-input', HTMLInputElement),
  sendButton: byTestId('send-button', HTMLButtonElement),
  roomError: byTestId('room-error', HTMLParagraphElement),
  online: byTestId('online-list', HTMLUListElement),
  notifications: byTestId('notifications', HTMLUListElement),
};

let session: { connection: ChatConnection; userId: string } | undefined;
const rooms = new Map<string, RoomState>();
let currentRoom: string | undefined;
let lastTypingSent = 0;

function roomState(room: string): RoomState {
  let state = rooms.get(room);
  if (!state) {
    state = { joined: false, pending: false, unread: 0, messages: [], members: new Set(), typing: new Map() };
    rooms.set(room, state);
  }
  return state;
}

// ---- sign in and out ----

for (const room of ROOMS) {
  const id = `start-${room}`;
  const box = el('input', { type: 'checkbox', id, value: room, 'data-testid': `start-room-${room}` });
  box.checked = DEFAULT_START_ROOMS.has(room);
  ui.roomChoices.append(el('label', { for: id, class: 'choice' }, box, room));
}

ui.signInForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void startSession();
});

async function startSession(): Promise<void> {
  const name = ui.name.value.trim();
  const chosen = [...ui.roomChoices.querySelectorAll('input')]
    .filter((box) => box.checked)
    .map((box) => box.value);
  if (name === '') return;
  ui.signInButton.disabled = true;
  showMessage(ui.signInError, undefined);
  try {
    const token = await signIn(name);
    const negotiated = await negotiate(token, chosen);
    rooms.clear();
    for (const room of ROOMS) roomState(room).joined = negotiated.groups.includes(room);
    currentRoom = ROOMS.find((room) => roomState(room).joined);
    const connection = new ChatConnection(negotiated.url, {
      status: (status) => {
        if (session?.connection === connection) setStatus(status);
      },
      connected: (connectionId) => {
        if (session?.connection !== connection) return;
        // Shown on hover; also tells a watcher (the browser test) that a new connection began.
        ui.status.dataset.connectionId = connectionId;
        ui.status.title = `Connection ${connectionId}`;
        rejoinRooms();
      },
      room: (payload) => {
        if (session?.connection === connection) onRoomPayload(payload);
      },
      notification: (data) => {
        if (session?.connection === connection) addNotification(data);
      },
    });
    session = { connection, userId: negotiated.userId };
    ui.who.textContent = `Signed in as ${negotiated.userId}`;
    showChat(true);
    render();
    await connection.start();
  } catch (error) {
    session?.connection.stop();
    session = undefined;
    showChat(false);
    showMessage(ui.signInError, error instanceof Error ? error.message : String(error));
  } finally {
    ui.signInButton.disabled = false;
  }
}

function showChat(visible: boolean): void {
  ui.signIn.hidden = visible;
  ui.chat.hidden = !visible;
  ui.who.hidden = !visible;
  ui.signOut.hidden = !visible;
  if (!visible) ui.drop.hidden = true;
}

ui.signOut.addEventListener('click', () => {
  const ending = session;
  session = undefined;
  ending?.connection.stop();
  setStatus('disconnected');
  ui.notifications.replaceChildren();
  ui.messageInput.value = '';
  showChat(false);
});

ui.drop.addEventListener('click', () => {
  session?.connection.dropSocket();
});

function setStatus(status: ConnectionStatus): void {
  ui.status.textContent = status;
  ui.status.dataset.status = status.replace('…', '');
  ui.drop.hidden = status !== 'connected';
}

// ---- rooms ----

/** A new connection starts in the token's rooms only, and join replies carry who is there: ask again. */
function rejoinRooms(): void {
  const joined = ROOMS.filter((room) => roomState(room).joined);
  // Marked at once, in the same task as the `connected` status, so nobody mistakes the rooms for ready.
  for (const room of joined) roomState(room).pending = true;
  render();
  void (async () => {
    for (const room of joined) await joinRoom(room, false);
  })();
}

async function joinRoom(room: string, select: boolean): Promise<void> {
  const state = roomState(room);
  state.pending = true;
  render();
  let reply: EventReply | undefined;
  try {
    reply = await sendEvent('join', { room }, `Could not join ${room}`);
  } finally {
    state.pending = false;
    render();
  }
  if (reply === undefined) return;
  if (!reply.ok) {
    state.joined = false;
    render();
    showMessage(
      ui.roomError,
      reply.error === 'forbidden'
        ? `You may not join ${room}: the server refused (forbidden).`
        : `Could not join ${room} (${reply.error ?? 'refused'}).`,
    );
    return;
  }
  state.joined = true;
  state.members = new Set(membersOf(reply));
  if (session) state.members.add(session.userId);
  if (select || currentRoom === undefined) currentRoom = room;
  showMessage(ui.roomError, undefined);
  render();
}

async function leaveRoom(room: string): Promise<void> {
  const reply = await sendEvent('leave', { room }, `Could not leave ${room}`);
  if (!reply?.ok) return;
  const state = roomState(room);
  state.joined = false;
  state.members.clear();
  if (currentRoom === room) currentRoom = ROOMS.find((other) => roomState(other).joined);
  render();
}

/**
 * Sends one user event. Resolves with the handler's reply; a missing reply after a successful ack counts
 * as `{ ok: true }`. Failures are shown, and resolve undefined.
 */
async function sendEvent(
  name: string,
  data: Record<string, string>,
  failure: string,
): Promise<EventReply | undefined> {
  const connection = session?.connection;
  if (!connection) return undefined;
  try {
    return (await connection.send(name, data)) ?? { ok: true };
  } catch (error) {
    if (session?.connection === connection) {
      showMessage(ui.roomError, `${failure}: ${error instanceof Error ? error.message : String(error)}`);
    }
    return undefined;
  }
}

// ---- messages, typing, presence, pushes ----

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  void sendMessage();
});

async function sendMessage(): Promise<void> {
  const room = currentRoom;
  const text = ui.messageInput.value.trim();
  if (room === undefined || text === '') return;
  const reply = await sendEvent('message', { room, text }, 'Could not send');
  if (reply === undefined) return;
  if (!reply.ok) {
    showMessage(ui.roomError, refusalText(reply));
    return;
  }
  showMessage(ui.roomError, undefined);
  ui.messageInput.value = '';
  lastTypingSent = 0;
}

function refusalText(reply: EventReply): string {
  switch (reply.error) {
    case 'rate-limited':
      return `Slow down: try again in ${Math.ceil((reply.retryAfterMs ?? 1000) / 1000)} s.`;
    case 'not-in-room':
      return 'Join the room before writing in it.';
    case 'invalid':
      return 'That message cannot be sent (empty or longer than 2000 characters).';
    default:
      return `The server refused the message (${reply.error ?? 'no reason given'}).`;
  }
}

ui.messageInput.addEventListener('input', () => {
  const room = currentRoom;
  const now = Date.now();
  if (room === undefined || ui.messageInput.value.trim() === '') return;
  if (now - lastTypingSent < TYPING_SEND_INTERVAL_MS) return;
  lastTypingSent = now;
  // A lost typing notice is not worth an error line.
  void session?.connection.send('typing', { room }).catch(() => undefined);
});

function onRoomPayload(payload: RoomPayload): void {
  const state = roomState(payload.room);
  switch (payload.type) {
    case 'message':
      if (!state.messages.some((message) => message.id === payload.id)) {
        state.messages.push(payload);
        if (payload.room !== currentRoom) state.unread += 1;
      }
      stopTyping(state, payload.from);
      break;
    case 'typing': {
      if (payload.userId === session?.userId) return;
      const previous = state.typing.get(payload.userId);
      if (previous !== undefined) clearTimeout(previous);
      state.typing.set(
        payload.userId,
        setTimeout(() => {
          state.typing.delete(payload.userId);
          render();
        }, TYPING_SHOW_MS),
      );
      break;
    }
    case 'presence':
      if (payload.status === 'online') state.members.add(payload.userId);
      else state.members.delete(payload.userId);
      break;
  }
  render();
}

function stopTyping(state: RoomState, userId: string): void {
  const timer = state.typing.get(userId);
  if (timer !== undefined) clearTimeout(timer);
  state.typing.delete(userId);
}

function addNotification(data: unknown): void {
  const { title, text } = describePush(data);
  const item = el(
    'li',
    { 'data-testid': 'notification' },
    el('strong', {}, title),
    el('time', { datetime: new Date().toISOString() }, new Date().toLocaleTimeString()),
    el('p', {}, text),
  );
  ui.notifications.prepend(item);
}

// ---- rendering ----

function render(): void {
  const state = currentRoom === undefined ? undefined : roomState(currentRoom);
  // What is on screen is read.
  if (state) state.unread = 0;
  renderRooms();
  ui.currentRoom.textContent = currentRoom ?? 'No room joined';
  ui.messageInput.disabled = state === undefined;
  ui.sendButton.disabled = state === undefined;

  ui.messages.replaceChildren(
    ...(state?.messages ?? []).map((message) =>
      el(
        'li',
        {
          'data-testid': 'message',
          class: message.from === session?.userId ? 'message mine' : 'message',
        },
        el('span', { class: 'from' }, message.from),
        el('time', { datetime: message.at }, new Date(message.at).toLocaleTimeString()),
        el('p', { class: 'text' }, message.text),
      ),
    ),
  );
  ui.messages.lastElementChild?.scrollIntoView({ block: 'nearest' });

  const typing = [...(state?.typing.keys() ?? [])].sort();
  ui.typing.textContent =
    typing.length === 0 ? '' : `${typing.join(', ')} ${typing.length === 1 ? 'is' : 'are'} typing…`;

  ui.online.replaceChildren(
    ...[...(state?.members ?? [])]
      .sort()
      .map((userId) =>
        el(
          'li',
          { 'data-testid': 'online-user' },
          userId,
          ...(userId === session?.userId ? [el('span', { class: 'you' }, ' (you)')] : []),
        ),
      ),
  );
}

function renderRooms(): void {
  ui.roomList.replaceChildren(
    ...ROOMS.map((room) => {
      const state = roomState(room);
      const select = el(
        'button',
        {
          type: 'button',
          class: 'room-name',
          'data-testid': `room-${room}`,
          'aria-label': `Show ${room}`,
          'aria-pressed': String(room === currentRoom),
        },
        room,
        ...(state.unread > 0
          ? [
              el(
                'span',
                { class: 'unread' },
                String(state.unread),
                el('span', { class: 'visually-hidden' }, ' unread'),
              ),
            ]
          : []),
      );
      select.disabled = !state.joined;
      select.addEventListener('click', () => {
        currentRoom = room;
        showMessage(ui.roomError, undefined);
        render();
      });
      const action = el(
        'button',
        {
          type: 'button',
          class: 'quiet',
          'data-testid': `${state.joined ? 'leave' : 'join'}-${room}`,
          'aria-label': `${state.joined ? 'Leave' : 'Join'} ${room}`,
        },
        state.pending ? 'Joining…' : state.joined ? 'Leave' : 'Join',
      );
      action.disabled = state.pending;
      action.addEventListener('click', () => {
        void (state.joined ? leaveRoom(room) : joinRoom(room, true));
      });
      return el('li', { class: room === currentRoom ? 'room current' : 'room' }, select, action);
    }),
  );
}
