import './app.css';
import { Model } from './model.js';
import { mountShell, render } from './ui.js';

let scheduled = false;
let model: Model;

/** Renders once per frame, however many changes arrive. */
function changed(): void {
  if (scheduled) return;
  scheduled = true;
  const run = () => {
    scheduled = false;
    render(model);
  };
  // A hidden tab gets no animation frames, and its title still shows the unread count.
  if (document.visibilityState === 'hidden') setTimeout(run, 50);
  else requestAnimationFrame(run);
}

function notify(title: string, body: string): void {
  if (document.visibilityState !== 'hidden' || !('Notification' in window)) return;
  if (Notification.permission !== 'granted') return;
  const notification = new Notification(title, { body, tag: title });
  notification.onclick = () => window.focus();
}

Model.open(changed, notify).then(
  (opened) => {
    model = opened;
    mountShell(model);
    render(model);
  },
  (error: unknown) => {
    document.getElementById('app')!.textContent = `Mensageiro cannot start: ${String(error)}`;
  },
);
