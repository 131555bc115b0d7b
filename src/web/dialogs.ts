import { h } from './dom.js';
import type { Model } from './model.js';
import type { ServerFrame } from './protocol.js';

/** A modal form; Esc closes it (the browser's own dialog behaviour). */
function dialog(
  title: string,
  body: HTMLElement[],
  onSubmit: (error: (text: string) => void, close: () => void) => void,
): HTMLDialogElement {
  const error = h('p', { className: 'error', role: 'alert' });
  const form = h(
    'form',
    { method: 'dialog' },
    h('h2', { id: 'dialog-title' }, title),
    ...body,
    error,
    h(
      'div',
      { className: 'row' },
      h('button', { type: 'submit' }, 'OK'),
      h('button', { type: 'button', className: 'secondary', onclick: () => element.close() }, 'Cancel'),
    ),
  );
  const element = h('dialog', { 'aria-labelledby': 'dialog-title' }, form);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    error.textContent = '';
    onSubmit(
      (text) => (error.textContent = text),
      () => element.close(),
    );
  });
  element.addEventListener('close', () => element.remove());
  document.body.append(element);
  element.showModal();
  return element;
}

const offline = 'You are offline; try again when connected.';

function answerError(answer: ServerFrame): string | null {
  return answer.type === 'error' ? answer.text : null;
}

export function openNewChatDialog(model: Model): void {
  const input = h('input', { id: 'new-chat-name', required: true, autocomplete: 'off' });
  dialog(
    'New chat',
    [h('label', { for: 'new-chat-name' }, 'Username or 13-digit id'), input],
    (fail, close) => {
      const raw = input.value.trim();
      const name = /^\d{1,13}$/.test(raw) ? Number(raw) : raw;
      const sent = model.request({ type: 'lookup', name }, (answer) => {
        const problem = answerError(answer);
        if (problem !== null) return fail(problem);
        if (answer.type !== 'lookup') return;
        close();
        if (answer.kind === 'user' && answer.username) model.people.set(answer.id, answer.username);
        void model.open({ kind: 'conv', id: answer.id }).then(() => {
          const conv = model.convs.get(answer.id);
          if (conv && answer.kind === 'group') conv.kind = 'group';
          if (conv) conv.name = answer.username ?? answer.groupName ?? conv.name;
          model.changed();
        });
      });
      if (!sent) fail(offline);
    },
  );
}

const memberList = (raw: string) =>
  raw
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((member) => (/^\d{1,13}$/.test(member) ? Number(member) : member));

export function openGroupDialog(model: Model): void {
  const name = h('input', { id: 'group-name', required: true, maxlength: 64 });
  const members = h('input', { id: 'group-members', required: true, autocomplete: 'off' });
  dialog(
    'New group',
    [
      h('label', { for: 'group-name' }, 'Group name'),
      name,
      h('label', { for: 'group-members' }, 'Members (usernames or ids, separated by commas)'),
      members,
    ],
    (fail, close) => {
      const sent = model.request(
        { type: 'group', name: name.value.trim(), members: memberList(members.value) },
        (answer) => {
          const problem = answerError(answer);
          if (problem !== null) return fail(problem);
          if (answer.type !== 'group.created') return;
          close();
          void model.open({ kind: 'conv', id: answer.gid });
        },
      );
      if (!sent) fail(offline);
    },
  );
}

export function openMembersDialog(model: Model): void {
  if (model.view.kind !== 'conv') return;
  const gid = model.view.id;
  const conv = model.convs.get(gid);
  if (!conv) return;
  const change = (frame: Record<string, unknown>, fail: (text: string) => void, close: () => void) => {
    const sent = model.request({ ...frame, gid }, (answer) => {
      const problem = answerError(answer);
      if (problem !== null) return fail(problem);
      close();
    });
    if (!sent) fail(offline);
  };
  const add = h('input', { id: 'add-members', autocomplete: 'off' });
  const rename = h('input', { id: 'rename-group', value: conv.name, maxlength: 64 });
  const items = (conv.members ?? []).map((member) =>
    h(
      'li',
      {},
      model.nameOf(member) + (member === model.session!.id ? ' (you)' : ''),
      member === model.session!.id
        ? null
        : h(
            'button',
            {
              type: 'button',
              className: 'secondary',
              'aria-label': `Remove ${model.nameOf(member)}`,
              onclick: () =>
                change(
                  { type: 'group.remove', members: [member] },
                  (text) => (element.querySelector('.error')!.textContent = text),
                  () => element.close(),
                ),
            },
            'Remove',
          ),
    ),
  );
  const leave = h(
    'button',
    {
      type: 'button',
      className: 'danger',
      onclick: () =>
        change(
          { type: 'group.leave' },
          (text) => (element.querySelector('.error')!.textContent = text),
          () => element.close(),
        ),
    },
    'Leave group',
  );
  const element = dialog(
    `Members of ${conv.name}`,
    [
      h('ul', { className: 'members', 'aria-label': 'Members' }, ...items),
      h('label', { for: 'rename-group' }, 'Group name'),
      rename,
      h('label', { for: 'add-members' }, 'Add members'),
      add,
      leave,
    ],
    (fail, close) => {
      const added = memberList(add.value);
      if (added.length > 0) change({ type: 'group.add', members: added }, fail, close);
      if (rename.value.trim() !== conv.name && rename.value.trim() !== '')
        change({ type: 'group.rename', name: rename.value.trim() }, fail, close);
      if (added.length === 0 && rename.value.trim() === conv.name) close();
    },
  );
}
