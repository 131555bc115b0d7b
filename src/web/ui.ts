import type { Conversation, StoredMessage } from './db.js';
import { clock, dayLabel, h, richText, shortTime } from './dom.js';
import type { Model } from './model.js';
import { openGroupDialog, openMembersDialog, openNewChatDialog } from './dialogs.js';

const $ = <T extends HTMLElement>(selector: string) => document.querySelector(selector) as T;

/** The page's fixed shell; render() fills its parts from the model. */
export function mountShell(model: Model): void {
  const app = $('#app');
  const authError = h('p', { id: 'auth-error', role: 'alert', className: 'error' });
  const username = h('input', {
    id: 'username',
    name: 'username',
    autocomplete: 'username',
    required: true,
    maxlength: 32,
    pattern: '[A-Za-z0-9_.\\-]+',
  });
  const password = h('input', {
    id: 'password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const auth = h(
    'form',
    { id: 'auth', className: 'auth', 'aria-labelledby': 'auth-title' },
    h('h1', { id: 'auth-title' }, 'Mensageiro'),
    h('label', { for: 'username' }, 'Username'),
    username,
    h('label', { for: 'password' }, 'Password'),
    password,
    authError,
    h(
      'div',
      { className: 'row' },
      h('button', { type: 'submit', value: 'login' }, 'Sign in'),
      h('button', { type: 'submit', value: 'register', className: 'secondary' }, 'Create account'),
    ),
  );
  auth.addEventListener('submit', (event) => {
    event.preventDefault();
    const mode =
      ((event as SubmitEvent).submitter as HTMLButtonElement | null)?.value === 'register'
        ? 'register'
        : 'login';
    model.signIn(mode, username.value.trim(), password.value);
  });

  const filter = h('input', {
    id: 'filter',
    type: 'search',
    placeholder: 'Search',
    'aria-label': 'Filter conversations',
    oninput: () => model.changed(),
  });
  const sidebar = h(
    'aside',
    { id: 'sidebar', 'aria-label': 'Conversations' },
    h(
      'header',
      { className: 'bar' },
      h('strong', { id: 'me' }),
      h(
        'button',
        {
          type: 'button',
          id: 'new-chat',
          'aria-label': 'New chat',
          title: 'New chat',
          onclick: () => openNewChatDialog(model),
        },
        '+ Chat',
      ),
      h(
        'button',
        {
          type: 'button',
          id: 'new-group',
          'aria-label': 'New group',
          title: 'New group',
          onclick: () => openGroupDialog(model),
        },
        '+ Group',
      ),
      h(
        'button',
        {
          type: 'button',
          id: 'notify',
          'aria-label': 'Enable notifications',
          title: 'Enable notifications',
          onclick: () => void Notification.requestPermission().then(() => model.changed()),
        },
        'Alerts',
      ),
      h('button', { type: 'button', id: 'sign-out', onclick: () => void model.signOut() }, 'Sign out'),
    ),
    filter,
    h('ul', { id: 'convs', role: 'list' }),
  );

  const messages = h('ol', {
    id: 'messages',
    role: 'log',
    'aria-live': 'polite',
    'aria-label': 'Messages',
    tabindex: 0,
  });
  messages.addEventListener('scroll', () => {
    if (messages.scrollTop < 40) void model.loadOlder();
  });
  const text = h('textarea', {
    id: 'text',
    rows: 1,
    'aria-label': 'Message',
    placeholder: 'Message',
    maxlength: 4096,
  });
  const composer = h(
    'form',
    { id: 'composer', className: 'composer' },
    text,
    h('button', { type: 'submit', 'aria-label': 'Send' }, 'Send'),
  );
  const submit = () => {
    const value = text.value;
    if (value.trim() === '') return;
    text.value = '';
    if (model.view.kind === 'lobby') model.link.send({ type: 'lobby', text: value });
    else if (model.view.kind === 'conv') void model.send(model.view.id, value);
  };
  composer.addEventListener('submit', (event) => {
    event.preventDefault();
    submit();
  });
  text.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  const pane = h(
    'section',
    { id: 'pane', 'aria-labelledby': 'title' },
    h(
      'header',
      { className: 'bar' },
      h(
        'button',
        {
          type: 'button',
          id: 'back',
          'aria-label': 'Back to conversations',
          onclick: () => void model.open({ kind: 'none' }),
        },
        '←',
      ),
      h('div', { className: 'who' }, h('h2', { id: 'title' }), h('span', { id: 'subtitle' })),
      h('button', { type: 'button', id: 'members', onclick: () => openMembersDialog(model) }, 'Members'),
    ),
    messages,
    composer,
  );
  const banner = h('div', { id: 'banner', role: 'status', 'aria-live': 'polite' });
  const notice = h('div', {
    id: 'notice',
    role: 'alert',
    onclick: () => ((model.notice = ''), model.changed()),
  });
  app.replaceChildren(banner, notice, auth, h('main', { id: 'main' }, sidebar, pane));
  document.addEventListener('visibilitychange', () => {
    model.markRead();
    model.changed();
  });
}

let lastRendered = { view: '', first: '', count: 0 };

export function render(model: Model): void {
  const signedIn = model.session !== null;
  $('#auth').hidden = signedIn;
  $('#main').hidden = !signedIn;
  $('#auth-error').textContent = model.authError;
  renderBanner(model);
  const notice = $('#notice');
  notice.textContent = model.notice;
  notice.hidden = model.notice === '';
  const unread = model.unreadTotal();
  document.title =
    document.visibilityState === 'hidden' && unread > 0 ? `(${unread}) Mensageiro` : 'Mensageiro';
  if (!signedIn) return;
  $('#me').textContent = model.session!.username;
  $('#notify').hidden = !('Notification' in window) || Notification.permission !== 'default';
  renderList(model);
  renderPane(model);
}

function renderBanner(model: Model): void {
  const banner = $('#banner');
  const { state, attempt, reason } = model.status;
  const offline = model.session !== null && state !== 'online';
  banner.hidden = !offline;
  if (!offline) return;
  banner.textContent =
    state === 'connecting'
      ? `Connecting to the server${attempt > 0 ? ` (attempt ${attempt + 1})` : ''}…`
      : `Offline: ${reason || 'not connected'}. Messages you send are kept and go out when the connection is back.`;
}

function renderList(model: Model): void {
  const wanted = ($('#filter') as HTMLInputElement).value.trim().toLowerCase();
  const convs = [...model.convs.values()]
    .filter((conv) => wanted === '' || conv.name.toLowerCase().includes(wanted))
    .sort((a, b) => b.lastAt - a.lastAt);
  const open = model.view.kind === 'conv' ? model.view.id : null;
  const items = convs.map((conv) => conversationItem(model, conv, conv.id === open));
  const lobby = h(
    'li',
    {},
    h(
      'button',
      {
        type: 'button',
        className: 'conv',
        'aria-current': model.view.kind === 'lobby' ? 'true' : null,
        onclick: () => void model.open({ kind: 'lobby' }),
      },
      h('span', { className: 'dot lobby', 'aria-hidden': 'true' }),
      h('span', { className: 'name' }, 'Lobby'),
      h('span', { className: 'last' }, 'The public room'),
    ),
  );
  $('#convs').replaceChildren(...items, lobby);
}

function conversationItem(model: Model, conv: Conversation, current: boolean): HTMLElement {
  const online = conv.kind === 'user' && model.presence.get(conv.id) === true;
  const sender =
    conv.kind === 'group' && conv.lastFrom !== 0
      ? `${conv.lastFrom === model.session!.id ? 'You' : model.nameOf(conv.lastFrom)}: `
      : '';
  return h(
    'li',
    {},
    h(
      'button',
      {
        type: 'button',
        className: 'conv',
        'data-conv': conv.id,
        'aria-current': current ? 'true' : null,
        onclick: () => void model.open({ kind: 'conv', id: conv.id }),
      },
      h('span', {
        className: `dot${online ? ' online' : ''}`,
        role: 'img',
        'aria-label': conv.kind === 'group' ? 'group' : online ? 'online' : 'offline',
      }),
      h('span', { className: 'name' }, conv.name),
      h('time', { className: 'time' }, shortTime(conv.lastAt)),
      h('span', { className: 'last' }, sender + conv.lastText),
      conv.unread > 0
        ? h('span', { className: 'unread', 'aria-label': `${conv.unread} unread` }, String(conv.unread))
        : null,
    ),
  );
}

function renderPane(model: Model): void {
  const view = model.view;
  $('#main').classList.toggle('open', view.kind !== 'none');
  $('#pane').hidden = view.kind === 'none';
  $('#members').hidden = !(view.kind === 'conv' && model.convs.get(view.id)?.kind === 'group');
  const list = $('#messages');
  if (view.kind === 'none') return;
  let rows: HTMLElement[];
  if (view.kind === 'lobby') {
    $('#title').textContent = 'Lobby';
    $('#subtitle').textContent =
      model.lobbyMembers > 0 ? `Public room · ${model.lobbyMembers} here` : 'Public room: joining…';
    rows = model.lobby.map((post) =>
      h(
        'li',
        { className: `bubble${post.id === model.session!.id ? ' own' : ''}` },
        h('span', { className: 'sender' }, post.author),
        h('span', { className: 'text' }, ...richText(post.text)),
        h('time', {}, clock(post.at)),
      ),
    );
  } else {
    const conv = model.convs.get(view.id);
    $('#title').textContent = conv?.name ?? '';
    $('#subtitle').textContent =
      conv?.kind === 'group'
        ? conv.active === false
          ? 'You are no longer a member'
          : `${conv.members?.length ?? 0} members`
        : model.presence.get(view.id)
          ? 'online'
          : '';
    rows = conv ? messageRows(model, conv, model.messages) : [];
  }
  const key = view.kind === 'lobby' ? 'lobby' : `c${view.id}`;
  const first = rows.find((row) => row.dataset.k)?.dataset.k ?? '';
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 60;
  const fromBottom = list.scrollHeight - list.scrollTop;
  const prepended =
    lastRendered.view === key && first !== lastRendered.first && rows.length > lastRendered.count;
  list.replaceChildren(...rows);
  if (lastRendered.view !== key || atBottom) list.scrollTop = list.scrollHeight;
  else if (prepended) list.scrollTop = list.scrollHeight - fromBottom;
  lastRendered = { view: key, first, count: rows.length };
}

function messageRows(model: Model, conv: Conversation, messages: StoredMessage[]): HTMLElement[] {
  const me = model.session!.id;
  const rows: HTMLElement[] = [];
  let day = '';
  for (const message of messages) {
    const label = dayLabel(message.at);
    if (label !== day) {
      day = label;
      rows.push(h('li', { className: 'day', role: 'separator' }, label));
    }
    const own = message.from === me;
    rows.push(
      h(
        'li',
        { className: `bubble${own ? ' own' : ''}`, 'data-k': message.k },
        conv.kind === 'group' && !own
          ? h('span', { className: 'sender' }, message.fromName ?? model.nameOf(message.from))
          : null,
        h('span', { className: 'text' }, ...richText(message.text)),
        h('time', { datetime: new Date(message.at).toISOString() }, clock(message.at)),
        own ? mark(conv, message) : null,
      ),
    );
  }
  return rows;
}

function mark(conv: Conversation, message: StoredMessage): HTMLElement {
  const [status, symbol] = message.failed
    ? ['failed', '!']
    : message.mid === undefined
      ? ['queued', '◷']
      : message.mid <= conv.readUpTo
        ? ['read', '✓✓']
        : message.mid <= conv.deliveredUpTo
          ? ['delivered', '✓✓']
          : ['sent', '✓'];
  return h(
    'span',
    {
      className: `mark ${status}`,
      'data-status': status,
      role: 'img',
      'aria-label': message.failed ? `not sent: ${message.failed}` : status,
      title: message.failed ?? status,
    },
    symbol,
  );
}
