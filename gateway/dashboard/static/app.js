// furl's dashboard: live invocations and log tails over Server-Sent
// Events, masked environment values, and the send form. No framework, no
// build step; served from furl itself so it works offline.
'use strict';

const maxRows = 200;     // invocation rows kept on the page
const maxLogLines = 200; // log lines kept per function

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (cls) el.className = cls;
  return el;
}

function formatDuration(ms) {
  if (ms === undefined || ms === null) return '';
  return ms < 1000 ? ms.toFixed(ms < 10 ? 2 : 0) + ' ms' : (ms / 1000).toFixed(2) + ' s';
}

function addRow(ev) {
  const body = document.querySelector('#invocations tbody');
  const tr = document.createElement('tr');
  const failed = ev.errorType || (ev.status && /^[45]/.test(ev.status));
  tr.className = 'invocation ' + ev.kind + ' ' + (failed ? 'error' : 'ok');
  tr.dataset.function = ev.function;
  tr.dataset.requestId = ev.requestId || '';
  const status = ev.kind === 'throttle' ? 'throttled' : (ev.errorType || ev.status || 'ok');
  const start = ev.kind === 'end' ? (ev.cold ? 'cold' : 'warm') : '';
  // An unqualified URL's requests run $LATEST.
  const cells = [new Date(ev.time).toLocaleTimeString(), ev.function, ev.version || (ev.kind === 'url' ? '$LATEST' : ''), ev.kind === 'url' ? 'url' : (ev.streaming ? 'stream' : 'invoke'),
    status, formatDuration(ev.durationMs), start, ev.kind === 'end' ? String(ev.responseBytes) : '', ev.requestId || ''];
  const classes = ['time', 'fn', 'version', 'kind', 'status', 'duration', 'start', 'bytes', 'request'];
  cells.forEach((v, i) => tr.appendChild(text('td', v, classes[i])));
  body.insertBefore(tr, body.firstChild);
  while (body.children.length > maxRows) body.removeChild(body.lastChild);
}

function addLog(ev) {
  const pre = Array.from(document.querySelectorAll('pre.log')).find(p => p.dataset.function === ev.function);
  if (!pre) return;
  const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  const line = text('span', ev.line.replace(/\n?$/, '\n'), 'line');
  pre.appendChild(line);
  while (pre.childNodes.length > maxLogLines) pre.removeChild(pre.firstChild);
  if (atEnd) pre.scrollTop = pre.scrollHeight;
}

function live() {
  const state = document.getElementById('feedstate');
  const source = new EventSource('/_furl/events');
  source.onopen = () => { state.textContent = 'live'; state.dataset.state = 'live'; };
  source.onerror = () => { state.textContent = 'reconnecting…'; state.dataset.state = 'down'; };
  source.onmessage = msg => {
    const ev = JSON.parse(msg.data);
    if (ev.kind === 'log') addLog(ev);
    else if (ev.kind === 'end' || ev.kind === 'throttle' || ev.kind === 'url') addRow(ev);
  };
  source.addEventListener('dropped', msg => {
    state.textContent = 'live (' + msg.data + ' events dropped: the page fell behind)';
  });
}

function secrets() {
  for (const button of document.querySelectorAll('button.reveal')) {
    button.addEventListener('click', () => {
      const span = button.parentElement.querySelector('.secret');
      const masked = span.classList.toggle('masked');
      span.textContent = masked ? '••••••••' : span.dataset.value;
      button.textContent = masked ? 'show' : 'hide';
    });
  }
}

function parseHeaders(raw) {
  const headers = {};
  for (const line of raw.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return headers;
}

// send posts the form as JSON (so no other origin's page can) and shows
// the answer as it streams: a first line with status and headers, then
// the function's body.
async function send(form) {
  const box = document.getElementById('response');
  const status = document.getElementById('resp-status');
  const state = document.getElementById('resp-state');
  const headers = document.getElementById('resp-headers');
  const body = document.getElementById('resp-body');
  box.hidden = false;
  status.textContent = '…';
  state.textContent = 'sending';
  headers.textContent = '';
  body.textContent = '';
  // form.elements, not form.method or form.target: those are the form's
  // own attributes.
  const f = form.elements;
  const target = new URLSearchParams(f.namedItem('target').value);
  const req = {function: target.get('fn'), qualifier: target.get('q'), method: f.namedItem('method').value,
    path: f.namedItem('path').value, headers: parseHeaders(f.namedItem('headers').value), body: f.namedItem('body').value};
  let resp;
  try {
    resp = await fetch('/_furl/send', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(req)});
  } catch (e) {
    state.textContent = 'failed: ' + e;
    return;
  }
  if (!resp.ok) {
    status.textContent = 'not sent';
    state.textContent = await resp.text();
    return;
  }
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let head = '';
  let inBody = false;
  state.textContent = 'streaming';
  try {
    for (;;) {
      const {done, value} = await reader.read();
      if (done) break;
      let chunk = decoder.decode(value, {stream: true});
      if (!inBody) {
        head += chunk;
        const nl = head.indexOf('\n');
        if (nl < 0) continue;
        const h = JSON.parse(head.slice(0, nl));
        status.textContent = String(h.status);
        headers.textContent = Object.entries(h.headers).map(([k, v]) => k + ': ' + v.join(', ')).join('\n');
        chunk = head.slice(nl + 1);
        inBody = true;
      }
      if (chunk) body.appendChild(text('span', chunk, 'chunk'));
    }
    body.appendChild(document.createTextNode(decoder.decode()));
    state.textContent = 'done';
  } catch (e) {
    state.textContent = 'cut: ' + e;
  }
}

document.addEventListener('DOMContentLoaded', () => {
  secrets();
  const form = document.getElementById('sendform');
  if (form) form.addEventListener('submit', e => { e.preventDefault(); send(form); });
  if (document.getElementById('invocations')) live();
});
