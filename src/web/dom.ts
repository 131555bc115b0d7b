/** A tiny element builder: strings become text nodes, never HTML. */
type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Array<Child | Child[]>
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(key.slice(2), value);
    else if (key === 'className') element.className = String(value);
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return element;
}

const LINK = /\bhttps?:\/\/[^\s<>"']+/g;

/** Message text with http(s) links made clickable; everything else stays text. */
export function richText(text: string): Node[] {
  const nodes: Node[] = [];
  let at = 0;
  for (const match of text.matchAll(LINK)) {
    const url = match[0].replace(/[.,;:!?)]+$/, '');
    if (match.index > at) nodes.push(document.createTextNode(text.slice(at, match.index)));
    nodes.push(h('a', { href: url, target: '_blank', rel: 'noopener noreferrer nofollow' }, url));
    at = match.index + url.length;
  }
  if (at < text.length) nodes.push(document.createTextNode(text.slice(at)));
  return nodes;
}

export const clock = (at: number) =>
  new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

export function dayLabel(at: number): string {
  const day = new Date(at);
  const today = new Date();
  const start = (date: Date) => new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
  const days = Math.round((start(today) - start(day)) / 86_400_000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  return day.toLocaleDateString([], { year: 'numeric', month: 'long', day: 'numeric' });
}

/** The conversation list's time: the clock today, else the date. */
export const shortTime = (at: number) =>
  at === 0 ? '' : dayLabel(at) === 'Today' ? clock(at) : new Date(at).toLocaleDateString();
