// The skeleton console: sign in with an API key, create a Kling avatar task, watch tasks live.
// It speaks graphql-transport-ws directly; the full console (Vite + React + urql) replaces it.
const $ = (id) => document.getElementById(id);
let apiKey = localStorage.getItem('clipwire.apiKey') ?? '';
const rows = new Map();
let socket;

async function gql(query, variables) {
  const res = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors) throw new Error(body.errors.map((e) => e.message).join('; '));
  return body.data;
}

const TASK_FIELDS = 'id status statusMessage externalTaskId provider createdAt videos { url }';

function connect() {
  socket?.close();
  const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  socket = ws;
  let next = 0;
  let acked = false;
  const pending = [];
  ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${apiKey}` } }));
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type === 'connection_ack') {
      acked = true;
      pending.splice(0).forEach((f) => f());
    }
    if (msg.type === 'next' && msg.payload.data?.taskUpdated) render(msg.payload.data.taskUpdated);
    if (msg.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
  };
  ws.watch = (id) => {
    const send = () => ws.send(JSON.stringify({ id: String(next++), type: 'subscribe', payload: { query: `subscription ($id: ID!) { taskUpdated(id: $id) { ${TASK_FIELDS} } }`, variables: { id } } }));
    acked ? send() : pending.push(send);
  };
  return ws;
}

function render(task) {
  let tr = rows.get(task.id);
  if (!tr) {
    tr = document.createElement('tr');
    rows.set(task.id, tr);
    const body = $('tasks');
    if (!body.dataset.filled) { body.textContent = ''; body.dataset.filled = '1'; }
    body.prepend(tr);
  }
  tr.dataset.taskId = task.id;
  tr.replaceChildren(
    cell(new Date(task.createdAt).toLocaleString()),
    cell(task.externalTaskId ?? '—'),
    cell(task.provider),
    cell(task.status, `status status-${task.status}`, task.statusMessage ?? ''),
    videoCell(task.videos),
  );
}

function cell(text, className, title) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  if (title) td.title = title;
  return td;
}

function videoCell(videos) {
  const td = document.createElement('td');
  for (const v of videos) {
    const video = document.createElement('video');
    video.src = v.url;
    video.controls = true;
    video.preload = 'metadata';
    td.append(video);
  }
  return td;
}

async function load() {
  $('whoami').textContent = 'Loading…';
  try {
    const data = await gql(`{ tasks(first: 50) { edges { node { ${TASK_FIELDS} } } } }`);
    rows.clear();
    $('tasks').textContent = '';
    delete $('tasks').dataset.filled;
    const nodes = data.tasks.edges.map((e) => e.node).reverse();
    if (nodes.length === 0) $('tasks').innerHTML = '<tr><td colspan="5">No tasks yet: create one.</td></tr>';
    const ws = connect();
    for (const t of nodes) {
      render(t);
      if (!['SUCCEEDED', 'FAILED', 'CANCELED'].includes(t.status)) ws.watch(t.id);
    }
    $('whoami').textContent = 'Signed in.';
  } catch (e) {
    $('whoami').textContent = `Sign-in failed: ${e.message}`;
  }
}

function fileToBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(',')[1]);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function media(urlInput, fileInput) {
  const file = fileInput.files[0];
  if (file) return { base64: await fileToBase64(file) };
  return urlInput.value ? { url: urlInput.value } : undefined;
}

$('signin').addEventListener('submit', (e) => {
  e.preventDefault();
  apiKey = $('api-key').value.trim();
  localStorage.setItem('clipwire.apiKey', apiKey);
  load();
});

$('create').addEventListener('submit', async (e) => {
  e.preventDefault();
  const errors = $('create-errors');
  errors.textContent = '';
  const f = e.target.elements;
  const input = {
    image: await media(f.imageUrl, f.imageFile),
    audio: await media(f.audioUrl, f.audioFile),
    prompt: f.prompt.value || undefined,
    externalTaskId: f.externalTaskId.value || undefined,
    kling: { mode: f.mode.value },
  };
  try {
    const data = await gql(
      `mutation ($input: CreateAvatarVideoInput!) { createAvatarVideo(input: $input) { __typename ... on Task { ${TASK_FIELDS} } ... on Error { message } ... on ValidationError { issues { path message } } } }`,
      { input },
    );
    const result = data.createAvatarVideo;
    if (result.__typename !== 'Task') {
      for (const issue of result.issues ?? [{ path: [], message: result.message }]) {
        const li = document.createElement('li');
        li.textContent = `${issue.path.slice(1).join('.') || 'input'}: ${issue.message}`;
        errors.append(li);
      }
      return;
    }
    render(result);
    socket?.watch(result.id);
  } catch (err) {
    const li = document.createElement('li');
    li.textContent = err.message;
    errors.append(li);
  }
});

(async () => {
  if (!apiKey) {
    const config = await fetch('/console/config.json').then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
    if (config.sandboxApiKey) apiKey = config.sandboxApiKey;
  }
  $('api-key').value = apiKey;
  if (apiKey) load();
})();
