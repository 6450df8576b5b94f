// Nebula dashboard: a plain ES module with no dependencies. It talks to the
// HTTP API of docs/api.md on its own origin and draws every chart as SVG.
//
// Data flow: poll() fetches the function list and the newest invocation
// records every POLL_MS; the records accumulate in `state.records` (so the
// charts keep history beyond one page of results) and every view is drawn
// from `state`. User actions (deploy, delete, invoke) call the API and then
// refresh at once instead of waiting for the next poll.
//
// The selected function's panel (versions and live log) is fed separately:
// its versions are fetched when it is chosen or its serving version changes,
// and its log arrives over one EventSource (Server-Sent Events) that is
// closed as soon as another function is chosen.

const POLL_MS = 2000;
const FIRST_PAGE = 200;      // records fetched on load
const POLL_PAGE = 100;       // records fetched per poll
const RECORDS_KEPT = 3000;   // in memory, across all functions
const CHART_POINTS = 150;    // newest points per function and chart
const TABLE_PAGE = 20;       // rows shown at first, and added per "Show more"
const LIVE_LOG_KEPT = 200;   // entries in the live log panel
const TOKEN_KEY = 'nebula.token';
const SVG_NS = 'http://www.w3.org/2000/svg';
const RUNTIMES = ['wasm', 'docker'];

const state = {
  functions: new Map(),   // name -> function object from GET /v1/functions
  functionsKey: '',       // JSON of the last list, to skip identical redraws
  records: new Map(),     // id -> invocation record
  recordsVersion: 0,      // bumped whenever `records` changes
  drawnVersion: -1,       // what the charts and table show
  seq: 0,                 // arrival order, the tie-breaker for ordering
  live: true,
  loaded: false,
  tableRows: TABLE_PAGE,
};

// The function shown in the versions and live log panel.
const detail = {
  name: '',           // '' when none is deployed
  source: null,       // its EventSource, or null
  versionsKey: '',    // name, version and update time of the list drawn
  seen: new Set(),    // invocation ids in the live log
};

// ---- small DOM helpers ----------------------------------------------------

const $ = (selector, root = document) => root.querySelector(selector);

function append(node, children) {
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// el('p', {class: 'x', text: 'hi'}, child, …): attributes by name, except
// `class`, `text`, `dataset` and `on<event>` handlers.
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  return append(node, children);
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value != null && value !== false) node.setAttribute(key, String(value));
  }
  return append(node, children);
}

function setStatus(node, text, kind = '') {
  node.textContent = text;
  if (kind) node.dataset.kind = kind;
  else delete node.dataset.kind;
}

// ---- formatting ----------------------------------------------------------

function num(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function sig(value) {
  const a = Math.abs(value);
  if (a >= 100 || Number.isInteger(value)) return value.toFixed(0);
  return a >= 10 ? value.toFixed(1) : value.toFixed(2);
}

// Durations arrive in microseconds everywhere except Server-Timing (ms).
function formatUs(us) {
  us = num(us);
  if (us === null) return '–';
  us = Math.round(us * 100) / 100;  // ms → µs conversions leave float dust
  const a = Math.abs(us);
  if (a < 1000) return `${sig(us)} µs`;
  if (a < 1e6) return `${sig(us / 1e3)} ms`;
  return `${sig(us / 1e6)} s`;
}

function formatBytes(bytes) {
  bytes = num(bytes);
  if (bytes === null) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value.toFixed(0) : sig(value)} ${units[unit]}`;
}

function formatTime(us) {
  us = num(us);
  if (us === null) return '–';
  return new Date(us / 1000).toLocaleTimeString([], { hour12: false });
}

function formatDateTime(us) {
  us = num(us);
  if (us === null) return '';
  return new Date(us / 1000).toLocaleString([], { hour12: false });
}

function isoTime(us) {
  us = num(us);
  return us === null ? null : new Date(us / 1000).toISOString();
}

function shortDigest(digest) {
  if (typeof digest !== 'string') return '';
  const [algo, hex = ''] = digest.split(':');
  return hex ? `${algo}:${hex.slice(0, 12)}` : digest.slice(0, 19);
}

function median(values) {
  const sorted = values.filter((v) => num(v) !== null).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// ---- API client ------------------------------------------------------------

class ApiError extends Error {
  constructor(status, problem) {
    super(problemText(problem) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

function problemText(problem) {
  if (!problem) return '';
  const title = problem.title || '';
  const detail = problem.detail || '';
  if (title && detail && title !== detail) return `${title}: ${detail}`;
  return title || detail;
}

// Reads an error body: RFC 9457 problem+json when the server sends it, else
// whatever text came back, shaped like a problem.
async function readProblem(response) {
  const type = response.headers.get('Content-Type') || '';
  const text = await response.text().catch(() => '');
  if (type.includes('json')) {
    try {
      const parsed = JSON.parse(text);
      if (parsed && typeof parsed === 'object') return parsed;
    } catch {
      // Not JSON after all: fall through to plain text.
    }
  }
  return {
    title: response.statusText || `HTTP ${response.status}`,
    status: response.status,
    detail: text.slice(0, 2000),
  };
}

// The bearer token lives in sessionStorage: it survives reloads but not the
// tab, and is never written anywhere else.
const auth = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  pending: null,    // the open dialog's promise, shared by concurrent 401s
  declined: false,  // the user cancelled: background polls stop asking
  required: false,  // the server has answered 401 at least once
};

// fetch() with the token attached. On 401 it asks for a token (once, however
// many requests fail together) and retries. Background requests do not
// re-open the dialog after the user has cancelled it; user actions do.
async function request(path, init = {}, { interactive = false } = {}) {
  for (;;) {
    const headers = new Headers(init.headers || {});
    const sent = auth.token;
    if (sent) headers.set('Authorization', `Bearer ${sent}`);
    const response = await fetch(path, { ...init, headers });
    if (response.status !== 401) return response;

    auth.required = true;
    updateTokenButton();
    // Another request already obtained a new token: just retry with it.
    if (auth.token && auth.token !== sent) continue;
    if (auth.declined && !interactive) return response;
    const message = sent ? 'The server did not accept this token. Check it and try again.' : '';
    if (!(await askForToken(message))) return response;
  }
}

async function apiJson(path, init, options) {
  const response = await request(path, init, options);
  if (!response.ok) throw new ApiError(response.status, await readProblem(response));
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

function askForToken(message = '') {
  if (auth.pending) return auth.pending;
  const dialog = $('#token-dialog');
  const input = $('#token-input');
  const error = $('#token-error');
  error.textContent = message;
  error.hidden = !message;
  input.value = '';
  input.setAttribute('aria-invalid', message ? 'true' : 'false');
  $('#token-forget').hidden = !auth.token;
  dialog.returnValue = '';
  auth.pending = new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      auth.pending = null;
      const token = input.value.trim();
      input.value = '';
      if (dialog.returnValue === 'ok' && token) {
        auth.token = token;
        auth.declined = false;
        sessionStorage.setItem(TOKEN_KEY, token);
        updateTokenButton();
        resolve(true);
        poll();
        return;
      }
      if (dialog.returnValue === 'forget') {
        auth.token = '';
        sessionStorage.removeItem(TOKEN_KEY);
        updateTokenButton();
      }
      auth.declined = true;
      resolve(false);
    }, { once: true });
  });
  dialog.showModal();
  return auth.pending;
}

function updateTokenButton() {
  const button = $('#token-button');
  button.hidden = !(auth.required || auth.token);
  button.textContent = auth.token ? 'API token ✓' : 'Enter API token';
  button.setAttribute('aria-label', auth.token ? 'API token (set): change or forget it' : 'Enter API token');
}

// ---- polling -------------------------------------------------------------

let pollTimer = 0;
let inFlight = null;

// Refreshes everything now and schedules the next refresh. Safe to call at
// any time: overlapping calls share one round of requests.
function poll() {
  clearTimeout(pollTimer);
  const round = inFlight || (inFlight = refresh().finally(() => { inFlight = null; }));
  round.finally(() => {
    clearTimeout(pollTimer);
    if (state.live) pollTimer = setTimeout(poll, POLL_MS);
  });
  return round;
}

async function refresh() {
  if (document.hidden && state.loaded) return;
  const [functions, invocations] = await Promise.allSettled([
    loadFunctions(),
    loadInvocations(state.loaded ? POLL_PAGE : FIRST_PAGE),
  ]);
  const failure = [functions, invocations].find((r) => r.status === 'rejected');
  if (failure) {
    const error = failure.reason;
    if (error instanceof ApiError && error.status === 401) {
      setConnection('down', 'Needs an API token');
    } else if (error instanceof ApiError) {
      setConnection('down', `Server error: ${error.message}`);
    } else {
      setConnection('down', 'Server unreachable, retrying');
    }
  } else {
    setConnection(state.live ? 'live' : 'paused', state.live ? 'Live' : 'Paused');
    $('#updated-at').textContent = new Date().toLocaleTimeString([], { hour12: false });
    $('#updated-at').dateTime = new Date().toISOString();
  }
  state.loaded = true;
  drawRecords();
}

function setConnection(kind, text) {
  const node = $('#connection');
  // Only touch the live region when something changed, so that screen
  // readers hear "Server unreachable" once, not every two seconds.
  if (node.dataset.state === kind && node.textContent === text) return;
  node.dataset.state = kind;
  node.textContent = text;
}

async function loadFunctions() {
  const data = await apiJson('/v1/functions');
  const list = Array.isArray(data?.functions) ? data.functions.filter((f) => f && f.name) : [];
  list.sort((a, b) => String(a.name).localeCompare(String(b.name)));
  const key = JSON.stringify(list);
  if (key === state.functionsKey) return;
  state.functionsKey = key;
  state.functions = new Map(list.map((f) => [String(f.name), f]));
  drawFunctions();
  syncFunctionPickers();
  refreshVersionsIfChanged();
}

async function loadInvocations(limit) {
  const data = await apiJson(`/v1/invocations?limit=${limit}`);
  const list = Array.isArray(data?.invocations) ? data.invocations : [];
  mergeRecords(list);
}

// Records come newest first; give the oldest of a batch the lowest sequence
// number so that ties on started_at_us still sort in arrival order.
function mergeRecords(list) {
  let changed = false;
  for (const record of [...list].reverse()) {
    if (!record || record.id == null) continue;
    const id = String(record.id);
    const known = state.records.get(id);
    if (known && JSON.stringify({ ...known, _seq: undefined }) === JSON.stringify({ ...record, _seq: undefined })) {
      continue;
    }
    state.records.set(id, { ...record, _seq: known ? known._seq : ++state.seq });
    changed = true;
  }
  if (state.records.size > RECORDS_KEPT) {
    const oldest = sortedRecords().slice(0, state.records.size - RECORDS_KEPT);
    for (const record of oldest) state.records.delete(String(record.id));
    changed = true;
  }
  if (changed) state.recordsVersion += 1;
}

function compareRecords(a, b) {
  const ta = num(a.started_at_us) ?? 0;
  const tb = num(b.started_at_us) ?? 0;
  return ta !== tb ? ta - tb : a._seq - b._seq;
}

// Oldest first.
function sortedRecords() {
  return [...state.records.values()].sort(compareRecords);
}

// ---- functions list -------------------------------------------------------

function manifestOf(fn) {
  return fn && typeof fn.manifest === 'object' && fn.manifest ? fn.manifest : {};
}

function variantsOf(fn) {
  const manifest = manifestOf(fn);
  const variants = [];
  if (manifest.wasm) variants.push('wasm');
  if (manifest.docker) variants.push('docker');
  return variants;
}

function defaultRuntimeOf(fn) {
  const manifest = manifestOf(fn);
  if (RUNTIMES.includes(manifest.default_runtime)) return manifest.default_runtime;
  if (manifest.wasm) return 'wasm';
  if (manifest.docker) return 'docker';
  return 'wasm';
}

// One line per runtime that has a value; `variants` narrows the list to the
// function's own variants (plus any runtime that has a non-zero value).
function perRuntime(values, format, variants = RUNTIMES) {
  const items = RUNTIMES.filter((rt) => values && values[rt] != null && (variants.includes(rt) || values[rt]))
    .map((rt) => el('li', {}, el('span', { class: `runtime-${rt}`, text: rt }), ` ${format(values[rt])}`));
  return items.length ? el('ul', { class: 'stat-list' }, items) : el('span', { class: 'muted', text: '–' });
}

function functionRow(fn) {
  const name = String(fn.name);
  const manifest = manifestOf(fn);
  const limits = manifest.limits || {};
  const fallback = defaultRuntimeOf(fn);

  const variantCell = el('td', { 'data-label': 'Variants', class: 'variants' });
  for (const runtime of variantsOf(fn)) {
    const isDefault = runtime === fallback;
    const artifact = runtime === 'wasm' ? manifest.wasm?.module : manifest.docker?.image;
    const title = [isDefault ? 'default runtime' : '', artifact || ''].filter(Boolean).join(': ');
    append(variantCell, [
      el('span', { class: `badge ${runtime}${isDefault ? ' is-default' : ''}`, title: title || null },
        el('span', { text: runtime }), isDefault ? el('span', { class: 'visually-hidden', text: ' (default)' }) : null),
    ]);
  }
  // What the wasm artifact is: a module, a command component or an HTTP handler.
  const kind = manifest.wasm?.kind;
  if (kind) {
    const kinds = { module: 'core module (stdin → stdout)', command: 'wasi:cli/command component', http: 'wasi:http handler' };
    append(variantCell, [el('span', { class: 'sub-line', dataset: { kind }, title: kinds[kind] || kind, text: `wasm: ${kind}` })]);
  }
  if (manifest.docker?.image) append(variantCell, [el('span', { class: 'sub-line mono', text: manifest.docker.image })]);
  if (!variantCell.childNodes.length) variantCell.append(el('span', { class: 'muted', text: '–' }));

  const timeout = num(limits.timeout_ms) ?? 10000;
  const memory = num(limits.memory_mb) ?? 128;
  const invocations = fn.stats?.invocations || {};
  const startup = fn.stats?.p50_startup_us || {};

  return el('tr', { dataset: { key: name } },
    el('th', { scope: 'row', 'data-label': 'Name' },
      el('span', { class: 'fn-name', text: name, title: fn.updated_at_us ? `updated ${formatDateTime(fn.updated_at_us)}` : null }),
      el('span', {
        class: 'sub-line limits',
        text: `${num(fn.version) !== null ? `version ${fn.version} · ` : ''}timeout ${formatUs(timeout * 1000)} · memory ${memory} MB`,
      })),
    variantCell,
    el('td', { 'data-label': 'Invocations' }, perRuntime(invocations, (n) => String(n), variantsOf(fn))),
    el('td', { 'data-label': 'p50 startup' }, perRuntime(startup, formatUs)),
    el('td', { class: 'wide' },
      el('div', { class: 'row-actions' },
        el('button', { type: 'button', class: 'button small', dataset: { action: 'invoke', name }, 'aria-label': `Invoke ${name}`, text: 'Invoke' }),
        el('button', { type: 'button', class: 'button small', dataset: { action: 'edit', name }, 'aria-label': `Edit ${name}`, text: 'Edit' }),
        el('button', { type: 'button', class: 'button small', dataset: { action: 'detail', name }, 'aria-label': `Versions and live log of ${name}`, text: 'Versions' }),
        el('button', { type: 'button', class: 'button small subtle', dataset: { action: 'delete', name }, 'aria-label': `Delete ${name}`, text: 'Delete' }))));
}

// Redraws rows in place, by key, so that a poll never steals keyboard focus
// from a button the user is on: an unchanged row is left alone, and a
// replaced row hands focus to its counterpart.
function drawFunctions() {
  const body = $('#functions-body');
  const existing = new Map([...body.rows].map((row) => [row.dataset.key, row]));
  let cursor = body.firstElementChild;
  for (const fn of state.functions.values()) {
    const fresh = functionRow(fn);
    const old = existing.get(fresh.dataset.key);
    existing.delete(fresh.dataset.key);
    if (old && old.outerHTML === fresh.outerHTML) {
      if (old !== cursor) body.insertBefore(old, cursor);
      cursor = old.nextElementSibling;
      continue;
    }
    const focused = old && old.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    body.insertBefore(fresh, cursor);
    if (old) old.remove();
    if (focused) fresh.querySelector(`[data-action="${focused}"]`)?.focus();
    cursor = fresh.nextElementSibling;
  }
  for (const row of existing.values()) row.remove();

  const count = state.functions.size;
  $('#functions-empty').hidden = count > 0;
  $('#functions-count').textContent = count ? `${count} deployed` : '';
}

function sameOptions(select, values) {
  const current = [...select.options].map((o) => o.value);
  return current.length === values.length && current.every((v, i) => v === values[i]);
}

// Rebuilds the function pickers only when the set of names changed, so that
// a poll never closes a drop-down the user has open.
function syncFunctionPickers() {
  const names = [...state.functions.keys()];
  const picker = $('#invoke-function');
  const previous = picker.value;
  if (!sameOptions(picker, names.length ? names : [''])) {
    picker.replaceChildren(...(names.length
      ? names.map((name) => el('option', { value: name, text: name }))
      : [el('option', { value: '', text: 'No functions deployed' })]));
    if (names.includes(previous)) picker.value = previous;
  }
  picker.disabled = names.length === 0;
  $('#invoke-submit').disabled = names.length === 0;
  if (picker.value !== previous) syncRuntimeChoice();

  const filter = $('#filter-function');
  const chosen = filter.value;
  const known = [...new Set([...names, ...[...state.records.values()].map((r) => String(r.function))])].sort();
  if (!sameOptions(filter, ['', ...known])) {
    filter.replaceChildren(el('option', { value: '', text: 'All' }),
      ...known.map((name) => el('option', { value: name, text: name })));
    filter.value = known.includes(chosen) ? chosen : '';
  }

  // The versions and live log panel follows the chosen function, or the
  // first one; when its function is removed it moves on to another.
  const detailPicker = $('#detail-function');
  if (!sameOptions(detailPicker, names.length ? names : [''])) {
    detailPicker.replaceChildren(...(names.length
      ? names.map((name) => el('option', { value: name, text: name }))
      : [el('option', { value: '', text: 'No functions deployed' })]));
  }
  detailPicker.disabled = names.length === 0;
  const wanted = names.includes(detail.name) ? detail.name : (names[0] || '');
  if (detailPicker.value !== wanted) detailPicker.value = wanted;
  if (wanted !== detail.name) selectDetail(wanted);
}

// Pre-selects the function's default runtime and disables variants it lacks.
function syncRuntimeChoice() {
  const fn = state.functions.get($('#invoke-function').value);
  const variants = fn ? variantsOf(fn) : [];
  const radios = [...document.querySelectorAll('#invoke-form input[name="runtime"]')];
  for (const radio of radios) radio.disabled = variants.length > 0 && !variants.includes(radio.value);
  const wanted = fn ? defaultRuntimeOf(fn) : 'wasm';
  const current = radios.find((r) => r.checked);
  if (!current || current.disabled || fn) {
    const target = radios.find((r) => r.value === wanted && !r.disabled) || radios.find((r) => !r.disabled);
    if (target) target.checked = true;
  }
}

function onFunctionAction(event) {
  const button = event.target.closest('button[data-action]');
  if (!button) return;
  const { action, name } = button.dataset;
  if (action === 'invoke') {
    $('#invoke-function').value = name;
    syncRuntimeChoice();
    $('#invoke').scrollIntoView({ block: 'start' });
    $('#invoke-input').focus({ preventScroll: true });
  } else if (action === 'edit') {
    fillDeployForm(state.functions.get(name));
  } else if (action === 'detail') {
    selectDetail(name);
    $('#detail').scrollIntoView({ block: 'start' });
    $('#detail-function').focus({ preventScroll: true });
  } else if (action === 'delete') {
    confirmDelete(name);
  }
}

// ---- deploy ----------------------------------------------------------------

function fillDeployForm(fn) {
  if (!fn) return;
  const manifest = manifestOf(fn);
  const form = $('#deploy-form');
  form.reset();
  form.elements.name.value = fn.name;
  form.elements.image.value = manifest.docker?.image || '';
  form.elements.default_runtime.value = RUNTIMES.includes(manifest.default_runtime) ? manifest.default_runtime : '';
  form.elements.timeout_ms.value = manifest.limits?.timeout_ms ?? '';
  form.elements.memory_mb.value = manifest.limits?.memory_mb ?? '';
  updateDeployHint();
  form.scrollIntoView({ block: 'start' });
  form.elements.name.focus({ preventScroll: true });
}

function updateDeployHint() {
  const form = $('#deploy-form');
  const existing = state.functions.get(form.elements.name.value.trim());
  const module = manifestOf(existing).wasm?.module;
  $('#deploy-wasm-hint').textContent = module
    ? `Leave empty to keep the current module (${shortDigest(module)}).`
    : 'A WASI command module: reads stdin, writes stdout.';
  $('#deploy-submit').textContent = existing ? 'Update' : 'Deploy';
}

function positiveInt(input) {
  const text = input.value.trim();
  if (!text) return { value: undefined, ok: true };
  const value = Number(text);
  return { value, ok: Number.isInteger(value) && value > 0 };
}

function markInvalid(input, invalid) {
  input.setAttribute('aria-invalid', invalid ? 'true' : 'false');
}

async function onDeploy(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const status = $('#deploy-status');
  const fields = form.elements;
  const name = fields.name.value.trim();
  const file = fields.wasm.files[0] || null;
  const image = fields.image.value.trim();
  const timeout = positiveInt(fields.timeout_ms);
  const memory = positiveInt(fields.memory_mb);
  const existing = state.functions.get(name);
  const keptModule = !file ? manifestOf(existing).wasm?.module : undefined;

  const problems = [];
  const nameOk = /^[a-z0-9][a-z0-9-]{0,62}$/.test(name);
  markInvalid(fields.name, !nameOk);
  if (!nameOk) problems.push([fields.name, 'Name: use 1–63 lowercase letters, digits or “-”, starting with a letter or digit.']);
  markInvalid(fields.timeout_ms, !timeout.ok);
  if (!timeout.ok) problems.push([fields.timeout_ms, 'Timeout must be a whole number of milliseconds above 0.']);
  markInvalid(fields.memory_mb, !memory.ok);
  if (!memory.ok) problems.push([fields.memory_mb, 'Memory must be a whole number of MB above 0.']);
  const hasVariant = Boolean(file || keptModule || image);
  markInvalid(fields.wasm, !hasVariant);
  if (!hasVariant) problems.push([fields.wasm, 'Choose a .wasm module, a Docker image, or both.']);
  if (problems.length) {
    setStatus(status, problems.map(([, text]) => text).join(' '), 'error');
    problems[0][0].focus();
    return;
  }

  const submit = $('#deploy-submit');
  submit.disabled = true;
  try {
    let module = keptModule;
    if (file) {
      setStatus(status, `Uploading ${file.name} (${formatBytes(file.size)})…`);
      const uploaded = await apiJson('/v1/modules', {
        method: 'POST',
        headers: { 'Content-Type': 'application/wasm' },
        body: await file.arrayBuffer(),
      }, { interactive: true });
      module = uploaded?.digest;
      if (!module) throw new Error('The server did not return a module digest.');
    }

    // Start from the current manifest so that fields this form does not show
    // (env, args, docker_pool, payload limits) survive an update.
    const manifest = structuredClone(manifestOf(existing));
    delete manifest.wasm;
    delete manifest.docker;
    delete manifest.default_runtime;
    if (module) manifest.wasm = { module };
    if (image) manifest.docker = { ...(manifestOf(existing).docker || {}), image };
    if (fields.default_runtime.value) manifest.default_runtime = fields.default_runtime.value;
    manifest.limits = { ...(manifest.limits || {}) };
    if (timeout.value !== undefined) manifest.limits.timeout_ms = timeout.value;
    else delete manifest.limits.timeout_ms;
    if (memory.value !== undefined) manifest.limits.memory_mb = memory.value;
    else delete manifest.limits.memory_mb;
    if (!Object.keys(manifest.limits).length) delete manifest.limits;

    setStatus(status, `Deploying ${name}…`);
    const response = await request(`/v1/functions/${encodeURIComponent(name)}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(manifest),
    }, { interactive: true });
    if (!response.ok) throw new ApiError(response.status, await readProblem(response));

    const what = [module ? `wasm ${shortDigest(module)}` : null, image ? `docker ${image}` : null].filter(Boolean).join(', ');
    setStatus(status, `${response.status === 201 ? 'Deployed' : 'Updated'} ${name} (${what}).`, 'ok');
    form.reset();
    updateDeployHint();
    await poll();
    $('#invoke-function').value = name;
    syncRuntimeChoice();
  } catch (error) {
    setStatus(status, `Deploy failed. ${error.message}`, 'error');
  } finally {
    submit.disabled = false;
  }
}

async function confirmDelete(name) {
  const dialog = $('#confirm-dialog');
  $('#confirm-text').textContent =
    `“${name}” and its deployment are removed; its warm containers are stopped. Invocation records stay.`;
  dialog.returnValue = '';
  dialog.showModal();
  const answer = await new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue), { once: true });
  });
  if (answer !== 'ok') return;

  const status = $('#functions-status');
  try {
    const response = await request(`/v1/functions/${encodeURIComponent(name)}`, { method: 'DELETE' }, { interactive: true });
    // 204 deleted; 404 means it was already gone, which is what the user wanted.
    if (!response.ok && response.status !== 404) throw new ApiError(response.status, await readProblem(response));
    setStatus(status, `Deleted ${name}.`, 'ok');
    // The row and its buttons are gone: put focus somewhere meaningful.
    $('#functions-title').focus();
  } catch (error) {
    setStatus(status, `Could not delete ${name}. ${error.message}`, 'error');
  }
  await poll();
}

// ---- invoke ----------------------------------------------------------------

// `Server-Timing: queue;dur=0.012, startup;dur=0.3, …` → {queue: 0.012, …} (ms)
function parseServerTiming(header) {
  const timing = {};
  for (const entry of (header || '').split(',')) {
    const [name, ...params] = entry.split(';').map((s) => s.trim());
    if (!name) continue;
    for (const param of params) {
      const [key, value] = param.split('=').map((s) => s.trim());
      if (key === 'dur' && Number.isFinite(Number(value))) timing[name] = Number(value);
    }
  }
  return timing;
}

async function onInvoke(event) {
  event.preventDefault();
  const form = $('#invoke-form');
  const name = form.elements.function.value;
  const runtime = form.elements.runtime.value || 'wasm';
  if (!name) return;
  const submit = $('#invoke-submit');
  const status = $('#invoke-status');
  submit.disabled = true;
  submit.textContent = 'Invoking…';
  status.textContent = `Invoking ${name} on ${runtime}`;
  const started = performance.now();
  try {
    const response = await request(
      `/v1/functions/${encodeURIComponent(name)}/invoke?runtime=${encodeURIComponent(runtime)}`,
      { method: 'POST', headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: form.elements.input.value },
      { interactive: true });
    const roundTripMs = performance.now() - started;
    const result = {
      name,
      status: response.status,
      statusText: response.statusText,
      id: response.headers.get('X-Nebula-Invocation-Id'),
      runtime: response.headers.get('X-Nebula-Runtime') || runtime,
      cold: response.headers.get('X-Nebula-Cold-Start'),
      version: response.headers.get('X-Nebula-Version'),
      timing: parseServerTiming(response.headers.get('Server-Timing')),
      roundTripMs,
    };
    const retryAfter = response.headers.get('Retry-After');
    const type = response.headers.get('Content-Type') || '';
    if (response.ok) {
      const bytes = new Uint8Array(await response.arrayBuffer());
      result.output = new TextDecoder().decode(bytes);
      result.outputBytes = bytes.length;
    } else {
      result.problem = type.includes('json') || !type ? await readProblem(response)
        : { title: response.statusText || `HTTP ${response.status}`, detail: await response.text() };
      // 429 and 503 say when to come back.
      if (retryAfter) result.problem = { ...result.problem, retry_after: `${retryAfter} s` };
    }
    drawInvokeResult(result);
    status.textContent = response.ok
      ? `${name} returned ${result.outputBytes} bytes in ${formatUs((result.timing.total ?? roundTripMs) * 1000)}`
      : `${name} failed: ${problemText(result.problem)}`;
    if (result.id) loadInvocationDetails(result.id);
    else poll();
  } catch (error) {
    drawInvokeResult({ name, status: 0, problem: { title: 'Request failed', detail: error.message } });
    status.textContent = `Request failed: ${error.message}`;
  } finally {
    submit.disabled = state.functions.size === 0;
    submit.textContent = 'Invoke';
  }
}

function drawInvokeResult(result) {
  const box = $('#invoke-result');
  const ok = result.status >= 200 && result.status < 300;
  const head = el('p', { class: 'result-head' },
    el('span', { class: `http-status${ok ? '' : ' bad'}`, text: result.status ? `${result.status}` : 'error' }),
    result.statusText ? el('span', { text: result.statusText }) : null,
    result.runtime ? el('span', { class: `runtime-${result.runtime}`, text: result.runtime }) : null,
    result.version ? el('span', { class: 'version-number', title: 'the version that ran', text: `v${result.version}` }) : null,
    result.cold != null ? el('span', { text: result.cold === 'true' ? 'cold start' : 'warm' }) : null,
    result.id ? el('span', { class: 'muted' }, 'id ', el('code', { text: result.id })) : null);

  const parts = [head];
  if (result.problem) parts.push(problemBlock(result.problem));
  if (ok) {
    const shown = result.output.length > 65536 ? `${result.output.slice(0, 65536)}\n… (${formatBytes(result.outputBytes)} in total)` : result.output;
    parts.push(el('div', { class: 'field' },
      el('h3', { id: 'invoke-output-title', text: `Output (${formatBytes(result.outputBytes)})` }),
      el('pre', { id: 'invoke-output', tabindex: '0', 'aria-labelledby': 'invoke-output-title', text: shown || '(empty)' })));
  }
  // Only responses of an invocation carry Server-Timing; a 404 or 429 does not.
  if (result.timing && Object.keys(result.timing).length) {
    parts.push(timingFigure(result.timing, result.roundTripMs));
  }
  parts.push(el('dl', { id: 'invoke-resources', class: 'facts', hidden: true }));
  box.replaceChildren(...parts);
  box.hidden = false;
}

function problemBlock(problem) {
  const facts = [];
  const add = (label, value) => {
    if (value == null || value === '') return;
    facts.push(el('dt', { text: label }), el('dd', { text: String(value) }));
  };
  add('Status', problem.status);
  add('Kind', problem.kind);
  add('Exit code', problem.exit_code);
  add('Retry after', problem.retry_after);
  add('Type', problem.type && problem.type !== 'about:blank' ? problem.type : null);
  const stderr = problem.stderr_tail ?? problem.stderr;
  return el('div', { class: 'problem', role: 'group', 'aria-labelledby': 'problem-title' },
    el('h3', { id: 'problem-title', text: problem.title || 'Error' }),
    problem.detail ? el('p', { text: problem.detail }) : null,
    facts.length ? el('dl', { class: 'facts' }, facts) : null,
    stderr ? el('h4', { id: 'problem-stderr-title', text: 'stderr (tail)' }) : null,
    stderr ? el('pre', { tabindex: '0', 'aria-labelledby': 'problem-stderr-title', text: stderr }) : null);
}

const PHASES = [
  ['queue', 'Queue'],
  ['startup', 'Startup'],
  ['exec', 'Exec'],
];

// A horizontal stacked bar: queue, startup and exec in proportion to the
// total; what remains of the total (teardown, reading and writing bodies) is
// drawn as "other". Tiny phases get a sliver so they stay visible; the legend
// carries the exact numbers.
function timingFigure(timing, roundTripMs) {
  const known = PHASES.filter(([key]) => num(timing[key]) !== null);
  const sum = known.reduce((s, [key]) => s + Math.max(0, timing[key]), 0);
  const total = Math.max(num(timing.total) ?? sum, sum);
  const segments = known.map(([key, label]) => ({ key, label, ms: Math.max(0, timing[key]) }));
  if (num(timing.total) !== null && total - sum > total * 0.001) {
    segments.push({ key: 'other', label: 'Other', ms: total - sum });
  }

  const width = 1000;
  const minimum = 4;
  const bar = svg('svg', {
    class: 'timing-bar', viewBox: `0 0 ${width} 28`, preserveAspectRatio: 'none',
    role: 'img', 'aria-label': segments.map((s) => `${s.label} ${formatUs(s.ms * 1000)}`).join(', '),
  });
  if (total > 0) {
    const widths = segments.map((s) => (s.ms > 0 ? Math.max(minimum, (s.ms / total) * width) : 0));
    const scale = width / Math.max(width, widths.reduce((a, b) => a + b, 0));
    let x = 0;
    segments.forEach((segment, i) => {
      const w = widths[i] * scale;
      if (w <= 0) return;
      bar.append(svg('rect', { class: `phase-${segment.key}`, x, y: 0, width: Math.max(0, w - 1.5), height: 28, rx: 2 },
        svg('title', {}, `${segment.label}: ${formatUs(segment.ms * 1000)}`)));
      x += w;
    });
  } else {
    bar.append(svg('rect', { class: 'phase-other', x: 0, y: 0, width, height: 28, rx: 2 }));
  }

  const legend = el('ul', { class: 'timing-legend' },
    segments.map((s) => el('li', { dataset: { phase: s.key } },
      el('span', { class: `swatch phase-${s.key}`, 'aria-hidden': 'true' }),
      `${s.label} `, el('strong', { text: formatUs(s.ms * 1000) }))),
    num(timing.total) !== null ? el('li', {}, 'Total ', el('strong', { text: formatUs(timing.total * 1000) })) : null,
    num(roundTripMs) !== null ? el('li', { class: 'muted' }, `Browser round trip ${formatUs(roundTripMs * 1000)}`) : null);

  return el('figure', { class: 'timing', id: 'invoke-timing' },
    el('figcaption', { text: 'Timing (server side)' }), bar, legend);
}

// The record (cpu_us, max_memory_bytes) is written after the response is
// sent, so it may take a moment to appear: retry a few times.
async function loadInvocationDetails(id) {
  for (const delay of [0, 150, 400, 1000, 2000]) {
    if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
    try {
      const response = await request(`/v1/invocations/${encodeURIComponent(id)}`);
      if (response.status === 404) continue;
      if (!response.ok) break;
      const record = await response.json();
      showResources(record);
      mergeRecords([record]);
      drawRecords();
      break;
    } catch {
      break;
    }
  }
  poll();
}

function showResources(record) {
  const list = $('#invoke-resources');
  if (!list) return;
  const facts = [];
  if (num(record.cpu_us) !== null) facts.push(el('dt', { text: 'CPU time' }), el('dd', { text: formatUs(record.cpu_us) }));
  if (num(record.max_memory_bytes) !== null) {
    facts.push(el('dt', { text: 'Peak memory' }), el('dd', { text: formatBytes(record.max_memory_bytes) }));
  }
  if (num(record.teardown_us) !== null) facts.push(el('dt', { text: 'Teardown' }), el('dd', { text: formatUs(record.teardown_us) }));
  if (record.outcome) facts.push(el('dt', { text: 'Outcome' }), el('dd', { text: record.outcome }));
  if (record.output_truncated === true) {
    facts.push(el('dt', { text: 'Output' }), el('dd', { text: 'cut at max_output_bytes' }));
  }
  list.replaceChildren(...facts);
  list.hidden = facts.length === 0;
}

// ---- versions and live log -------------------------------------------------

function selectDetail(name) {
  if (name === detail.name) return;
  detail.name = name;
  const picker = $('#detail-function');
  if (picker.value !== name && [...picker.options].some((o) => o.value === name)) picker.value = name;
  setStatus($('#versions-status'), '');
  openLiveLog(name);
  detail.versionsKey = versionsKeyOf(name);
  $('#versions-body').replaceChildren();
  $('#detail-serving').textContent = '';
  loadVersions();
}

function versionsKeyOf(name) {
  const fn = state.functions.get(name);
  return fn ? `${name}:${fn.version}:${fn.updated_at_us}` : name;
}

// A deploy or a rollback (here, on another node, from the command line)
// changes the function's serving version: fetch its list again.
function refreshVersionsIfChanged() {
  if (!detail.name) return;
  const key = versionsKeyOf(detail.name);
  if (key === detail.versionsKey) return;
  detail.versionsKey = key;
  loadVersions();
}

async function loadVersions() {
  const name = detail.name;
  const empty = $('#versions-empty');
  if (!name) {
    $('#versions-body').replaceChildren();
    $('#detail-serving').textContent = '';
    empty.textContent = 'Choose a function to see its versions.';
    empty.hidden = false;
    return;
  }
  try {
    const data = await apiJson(`/v1/functions/${encodeURIComponent(name)}/versions`);
    if (detail.name === name) drawVersions(name, data);
  } catch (error) {
    if (detail.name !== name) return;
    setStatus($('#versions-status'), `Could not load the versions of ${name}. ${error.message}`, 'error');
  }
}

function variantSummary(manifest) {
  const parts = [];
  if (manifest?.wasm) {
    parts.push(el('span', { class: 'sub-line', title: manifest.wasm.module || null },
      el('span', { class: 'runtime-wasm', text: 'wasm' }), ` ${shortDigest(manifest.wasm.module)}`));
  }
  if (manifest?.docker) {
    parts.push(el('span', { class: 'sub-line' },
      el('span', { class: 'runtime-docker', text: 'docker' }), ` ${manifest.docker.image || ''}`));
  }
  return parts.length ? parts : [el('span', { class: 'muted', text: '–' })];
}

function drawVersions(name, data) {
  const serving = num(data?.serving);
  const versions = Array.isArray(data?.versions) ? data.versions : [];
  const servingNode = $('#detail-serving');
  servingNode.textContent = serving !== null ? `Serving version ${serving}` : '';
  servingNode.dataset.version = serving !== null ? String(serving) : '';
  const focused = $('#versions-body').contains(document.activeElement);
  const rows = versions.filter((v) => num(v?.version) !== null).map((v) => {
    const number = v.version;
    const isServing = v.serving === true || number === serving;
    return el('tr', { class: isServing ? 'is-serving' : null, dataset: { version: String(number), serving: String(isServing) } },
      el('th', { scope: 'row', 'data-label': 'Version' },
        el('span', { class: 'version-number', text: `v${number}` }),
        isServing ? el('span', { class: 'badge serving-badge', text: 'serving' }) : null),
      el('td', { 'data-label': 'Created' },
        el('time', { datetime: isoTime(v.created_at_us), text: formatDateTime(v.created_at_us) })),
      el('td', { 'data-label': 'Variants', class: 'variants' }, variantSummary(v.manifest)),
      el('td', { class: 'wide' }, isServing ? null : el('div', { class: 'row-actions' },
        el('button', {
          type: 'button', class: 'button small', dataset: { action: 'rollback', version: String(number) },
          'aria-label': `Roll ${name} back to version ${number}`, text: 'Roll back',
        }))));
  });
  $('#versions-body').replaceChildren(...rows);
  const empty = $('#versions-empty');
  empty.textContent = `No versions of ${name} are kept.`;
  empty.hidden = rows.length > 0;
  if (focused) $('#versions-title').focus();
}

async function onVersionAction(event) {
  const button = event.target.closest('button[data-action="rollback"]');
  if (!button) return;
  const name = detail.name;
  const version = Number(button.dataset.version);
  const status = $('#versions-status');
  button.disabled = true;
  setStatus(status, `Rolling ${name} back to version ${version}…`);
  try {
    const fn = await apiJson(`/v1/functions/${encodeURIComponent(name)}/rollback`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ version }),
    }, { interactive: true });
    setStatus(status, `${name} now serves version ${fn?.version ?? version}.`, 'ok');
  } catch (error) {
    setStatus(status, `Could not roll ${name} back. ${error.message}`, 'error');
    button.disabled = false;
  }
  if (detail.name !== name) return;
  detail.versionsKey = '';
  await poll();
  if (detail.versionsKey === '') {
    detail.versionsKey = versionsKeyOf(name);
    await loadVersions();
  }
}

function setLiveState(kind, text) {
  const node = $('#live-log-state');
  if (node.dataset.state === kind && node.textContent === text) return;
  node.dataset.state = kind;
  node.textContent = text;
}

// One EventSource at a time: the one of the selected function. The browser
// reconnects it by itself after a network error; a refusal (the function
// was removed) closes it for good.
function openLiveLog(name) {
  if (detail.source) {
    detail.source.close();
    detail.source = null;
  }
  detail.seen.clear();
  const list = $('#live-log');
  list.replaceChildren();
  list.dataset.function = name;
  $('#live-log-empty').textContent = name ? `Waiting for invocations of ${name}…` : 'No function selected.';
  if (!name) {
    setLiveState('idle', 'Not connected');
    return;
  }
  if (typeof EventSource === 'undefined') {
    setLiveState('closed', 'This browser cannot follow a live log');
    return;
  }
  const source = new EventSource(`/v1/functions/${encodeURIComponent(name)}/logs?follow=true`);
  detail.source = source;
  setLiveState('connecting', 'Connecting…');
  source.addEventListener('open', () => {
    if (detail.source === source) setLiveState('live', 'Live');
  });
  source.addEventListener('error', () => {
    if (detail.source !== source) return;
    if (source.readyState === EventSource.CLOSED) setLiveState('closed', 'Stream closed');
    else setLiveState('reconnecting', 'Reconnecting…');
  });
  source.addEventListener('invocation', (event) => {
    if (detail.source !== source) return;
    let entry;
    try {
      entry = JSON.parse(event.data);
    } catch {
      return;
    }
    if (entry && typeof entry === 'object') addLiveEntry(entry);
  });
}

function addLiveEntry(entry) {
  const id = String(entry.id ?? '');
  if (!id || detail.seen.has(id)) return;
  detail.seen.add(id);
  const outcome = String(entry.outcome || 'ok');
  const ok = outcome === 'ok';
  const exit = outcome === 'exit' && num(entry.exit_code) !== null ? ` ${entry.exit_code}` : '';
  const runtime = typeof entry.runtime === 'string' ? entry.runtime : '';
  const item = el('li', { dataset: { id, outcome } },
    el('div', { class: 'live-line' },
      el('time', { datetime: isoTime(entry.started_at_us), title: formatDateTime(entry.started_at_us), text: formatTime(entry.started_at_us) }),
      el('code', { text: id }),
      el('span', { class: 'version-number', text: num(entry.version) !== null ? `v${entry.version}` : 'v?' }),
      el('span', { class: 'trigger', text: String(entry.trigger || 'http') }),
      runtime ? el('span', { class: `runtime-${runtime}`, text: runtime }) : null,
      el('span', { class: `outcome ${ok ? 'ok' : 'bad'}`, text: `${outcome}${exit}` }),
      el('span', { class: 'total', title: 'total time', text: formatUs(entry.total_us) }),
      entry.cold === true ? el('span', { class: 'inline-note', text: 'cold' }) : null,
      entry.node ? el('span', { class: 'inline-note', title: 'node', text: String(entry.node) }) : null),
    !ok && entry.message ? el('p', { class: 'message', text: String(entry.message) }) : null,
    entry.stderr ? el('pre', { tabindex: '0', 'aria-label': `stderr of ${id}`, text: String(entry.stderr) }) : null);
  const list = $('#live-log');
  list.prepend(item);
  while (list.children.length > LIVE_LOG_KEPT) {
    detail.seen.delete(list.lastElementChild.dataset.id);
    list.lastElementChild.remove();
  }
}

// ---- compare view ----------------------------------------------------------

function drawRecords(force = false) {
  if (!force && state.drawnVersion === state.recordsVersion) return;
  state.drawnVersion = state.recordsVersion;
  const records = sortedRecords();
  drawCharts(records);
  drawInvocationTable(records);
  syncFilterOptions(records);
}

function syncFilterOptions(records) {
  const filter = $('#filter-function');
  const present = new Set([...filter.options].map((o) => o.value));
  for (const record of records) {
    const name = String(record.function);
    if (!present.has(name)) {
      syncFunctionPickers();
      return;
    }
  }
}

const chartWidths = new Map();  // last drawn width per chart box

function drawCharts(records) {
  const container = $('#charts');
  const byFunction = new Map();
  for (const record of records) {
    const name = String(record.function ?? '?');
    if (!byFunction.has(name)) byFunction.set(name, []);
    byFunction.get(name).push(record);
  }
  const names = [...byFunction.keys()].sort();
  const cards = new Map([...container.children].map((card) => [card.dataset.function, card]));
  for (const card of cards.values()) if (!byFunction.has(card.dataset.function)) card.remove();

  let cursor = container.firstElementChild;
  for (const name of names) {
    let card = cards.get(name);
    if (!card) {
      card = chartCard(name);
      container.insertBefore(card, cursor);
    } else if (card !== cursor) {
      container.insertBefore(card, cursor);
    }
    cursor = card.nextElementSibling;
    fillChartCard(card, byFunction.get(name).slice(-CHART_POINTS));
  }
}

function chartCard(name) {
  const id = `chart-${name.replace(/[^a-z0-9-]/gi, '_')}`;
  return el('article', { class: 'card chart-card', dataset: { function: name }, 'aria-labelledby': `${id}-title` },
    el('header', {},
      el('h3', { id: `${id}-title`, class: 'fn-name', text: name }),
      el('p', { class: 'headline' })),
    el('div', { class: 'chart-pair' },
      el('figure', { class: 'chart', dataset: { metric: 'startup_us' } }, el('figcaption', { text: 'Startup (cold start)' })),
      el('figure', { class: 'chart', dataset: { metric: 'total_us' } }, el('figcaption', { text: 'Total' }))));
}

function fillChartCard(card, records) {
  const name = card.dataset.function;
  const startups = {};
  for (const runtime of RUNTIMES) {
    startups[runtime] = median(records.filter((r) => r.runtime === runtime && r.cold !== false).map((r) => r.startup_us));
  }
  const headline = card.querySelector('.headline');
  const bits = RUNTIMES.filter((rt) => startups[rt] !== null)
    .map((rt) => [el('span', { class: `runtime-${rt}`, text: rt }), ' ', el('strong', { text: formatUs(startups[rt]) })]);
  const parts = [];
  if (bits.length) parts.push('Cold start p50: ', bits.flatMap((b, i) => (i ? [' · ', ...b] : b)));
  if (startups.wasm > 0 && startups.docker > 0) {
    const ratio = startups.docker / startups.wasm;
    parts.push(' — ', el('strong', { text: ratio >= 1 ? `wasm ${sig(ratio)}× faster` : `docker ${sig(1 / ratio)}× faster` }));
  }
  headline.replaceChildren(...parts.flat(3));

  for (const figure of card.querySelectorAll('figure.chart')) {
    const metric = figure.dataset.metric;
    const width = Math.round(figure.clientWidth) || 320;
    const key = `${records.length}:${records.at(-1)?.id}:${width}`;
    if (figure.dataset.drawn === key) continue;
    figure.dataset.drawn = key;
    chartWidths.set(figure, width);
    const title = figure.querySelector('figcaption').textContent;
    figure.querySelector('svg')?.remove();
    figure.append(logChart(records, metric, width, `${title} of ${name}`));
  }
}

function decadeLabel(us) {
  if (us < 1000) return `${us} µs`;
  if (us < 1e6) return `${us / 1e3} ms`;
  return `${us / 1e6} s`;
}

// One point per invocation, x = order (oldest left), y = duration on a log
// scale from the decade below the fastest to the decade above the slowest.
// A zero (a warm container's startup) cannot sit on a log axis; it is drawn
// on the bottom edge, hollow.
function logChart(records, metric, width, label) {
  const height = 190;
  const margin = { top: 10, right: 12, bottom: 22, left: 56 };
  const plotW = Math.max(40, width - margin.left - margin.right);
  const plotH = height - margin.top - margin.bottom;
  const values = records.map((r) => num(r[metric])).filter((v) => v !== null && v > 0);
  let lo = values.length ? Math.floor(Math.log10(Math.min(...values))) : 0;
  let hi = values.length ? Math.ceil(Math.log10(Math.max(...values))) : 3;
  if (hi <= lo) hi = lo + 1;
  lo = Math.max(lo, 0);  // 1 µs is the resolution of every recorded duration
  if (hi <= lo) hi = lo + 1;
  const y = (v) => margin.top + plotH - ((Math.log10(v) - lo) / (hi - lo)) * plotH;
  const n = records.length;
  const x = (i) => margin.left + (n === 1 ? plotW / 2 : (i / (n - 1)) * (plotW - 12) + 6);

  const summary = RUNTIMES.map((rt) => {
    const own = records.filter((r) => r.runtime === rt);
    const m = median(own.map((r) => r[metric]));
    return own.length ? `${rt} median ${formatUs(m)} over ${own.length} invocations` : null;
  }).filter(Boolean).join('; ');

  const root = svg('svg', {
    viewBox: `0 0 ${width} ${height}`, width, height, role: 'img',
    'aria-label': `${label}, logarithmic scale: ${summary || 'no data'}.`,
  });

  const grid = svg('g', { class: 'axis', 'aria-hidden': 'true' });
  for (let d = lo; d <= hi; d += 1) {
    const value = 10 ** d;
    grid.append(svg('line', { class: 'gridline', x1: margin.left, x2: margin.left + plotW, y1: y(value), y2: y(value) }));
    grid.append(svg('text', { x: margin.left - 6, y: y(value) + 4, 'text-anchor': 'end' }, decadeLabel(value)));
    if (d < hi && hi - lo <= 3) {
      for (const m of [2, 5]) {
        const v = m * value;
        grid.append(svg('line', { class: 'gridline minor', x1: margin.left, x2: margin.left + plotW, y1: y(v), y2: y(v) }));
      }
    }
  }
  grid.append(svg('line', { class: 'axis-line', x1: margin.left, x2: margin.left, y1: margin.top, y2: margin.top + plotH }));
  grid.append(svg('text', { x: margin.left, y: height - 4 }, 'older'));
  grid.append(svg('text', { x: margin.left + plotW, y: height - 4, 'text-anchor': 'end' }, `newer (${n})`));
  root.append(grid);

  const medians = svg('g', { 'aria-hidden': 'true' });
  for (const runtime of RUNTIMES) {
    const m = median(records.filter((r) => r.runtime === runtime).map((r) => r[metric]).filter((v) => v > 0));
    if (m === null) continue;
    medians.append(svg('line', { class: `median-line series-${runtime}`, x1: margin.left, x2: margin.left + plotW, y1: y(m), y2: y(m) }));
  }
  root.append(medians);

  const points = svg('g', { class: 'points' });
  records.forEach((record, i) => {
    const value = num(record[metric]);
    if (value === null) return;
    const runtime = RUNTIMES.includes(record.runtime) ? record.runtime : 'wasm';
    const cx = x(i);
    const cy = value > 0 ? y(Math.max(value, 10 ** lo)) : margin.top + plotH;
    const failed = record.outcome && record.outcome !== 'ok';
    const hollow = value <= 0 || (runtime === 'docker' && record.cold === false);
    const classes = `pt series-${runtime}${hollow ? ' hollow' : ''}${failed ? ' failed' : ''}`;
    const title = svg('title', {}, [
      `${record.function} · ${runtime}${record.cold === false ? ' · warm' : record.cold ? ' · cold' : ''}`,
      `${metric.replace('_us', '')} ${formatUs(value)}${value <= 0 ? ' (warm container)' : ''}`,
      `${record.outcome || 'ok'} · ${formatTime(record.started_at_us)} · id ${record.id}`,
    ].join('\n'));
    const dataset = { 'data-id': record.id, 'data-runtime': runtime };
    const shape = runtime === 'docker'
      ? svg('rect', { class: classes, x: cx - 3.5, y: cy - 3.5, width: 7, height: 7, ...dataset }, title)
      : svg('circle', { class: classes, cx, cy, r: 4, ...dataset }, title);
    points.append(shape);
    if (failed) {
      points.append(svg('path', { class: 'failed-mark', d: `M${cx - 4} ${cy - 4}l8 8m0 -8l-8 8`, 'aria-hidden': 'true' }));
    }
  });
  root.append(points);
  return root;
}

// The table keeps its rows across polls (records never change), inserting
// new ones above and dropping the oldest, so an open stderr disclosure and
// keyboard focus survive updates.
function drawInvocationTable(records) {
  const body = $('#invocations-body');
  const fn = $('#filter-function').value;
  const runtime = $('#filter-runtime').value;
  const wanted = records
    .filter((r) => (!fn || String(r.function) === fn) && (!runtime || r.runtime === runtime))
    .reverse();
  const more = $('#invocations-more');
  more.hidden = wanted.length <= state.tableRows;
  wanted.length = Math.min(wanted.length, state.tableRows);
  const existing = new Map([...body.rows].map((row) => [row.dataset.key, row]));
  const wantedKeys = new Set(wanted.map((r) => String(r.id)));
  for (const [key, row] of existing) if (!wantedKeys.has(key)) row.remove();
  let cursor = body.firstElementChild;
  for (const record of wanted) {
    const key = String(record.id);
    let row = existing.get(key);
    if (!row) {
      row = invocationRow(record);
      body.insertBefore(row, cursor);
    } else if (row !== cursor) {
      body.insertBefore(row, cursor);
    }
    cursor = row.nextElementSibling;
  }
  $('#invocations-empty').hidden = wanted.length > 0;
  $('#invocations-empty').textContent = records.length ? 'No invocations match the filter.' : 'Nothing recorded yet.';
}

function invocationRow(record) {
  const ok = !record.outcome || record.outcome === 'ok';
  const runtime = String(record.runtime ?? '');
  const cold = record.cold === true ? 'cold' : record.cold === false ? 'warm' : '';
  const errorCell = el('td', { class: 'error-cell wide', 'data-label': ok ? null : 'Error' });
  if (!ok) {
    if (record.message) errorCell.append(el('span', { text: record.message }));
    const details = el('details', {},
      el('summary', { text: 'stderr' }),
      el('pre', { tabindex: '0', text: 'Loading…' }));
    details.addEventListener('toggle', () => {
      if (details.open && !details.dataset.loaded) {
        details.dataset.loaded = 'yes';
        loadStderr(record.id, details.querySelector('pre'));
      }
    });
    errorCell.append(details);
  }
  const exit = num(record.exit_code) !== null && (record.exit_code !== 0 || !ok) ? ` (exit ${record.exit_code})` : '';
  return el('tr', { dataset: { key: String(record.id) } },
    el('td', { 'data-label': 'Time', title: formatDateTime(record.started_at_us), text: formatTime(record.started_at_us) }),
    el('td', { 'data-label': 'Function' },
      el('span', { class: 'fn-name', text: String(record.function ?? '') }),
      num(record.version) !== null ? el('span', { class: 'inline-note', text: ` v${record.version}` }) : null,
      record.trigger && record.trigger !== 'http' ? el('span', { class: 'inline-note', text: ` · ${record.trigger}` }) : null),
    el('td', { 'data-label': 'Runtime', class: 'nowrap' },
      el('span', { class: `runtime-${runtime}`, text: runtime }), cold ? el('span', { class: 'inline-note', text: ` · ${cold}` }) : null),
    el('td', { 'data-label': 'Outcome' },
      el('span', { class: `outcome ${ok ? 'ok' : 'bad'}`, text: `${record.outcome || 'ok'}${exit}` }),
      record.output_truncated === true
        ? el('span', { class: 'inline-note', title: 'the output was cut at max_output_bytes', text: ' · output cut' })
        : null),
    el('td', { 'data-label': 'Startup', class: 'num', text: formatUs(record.startup_us) }),
    el('td', { 'data-label': 'Exec', class: 'num', text: formatUs(record.exec_us) }),
    el('td', { 'data-label': 'Total', class: 'num', text: formatUs(record.total_us) }),
    el('td', { 'data-label': 'CPU', class: 'num', text: formatUs(record.cpu_us) }),
    el('td', { 'data-label': 'Memory', class: 'num', text: formatBytes(record.max_memory_bytes) }),
    errorCell);
}

async function loadStderr(id, pre) {
  try {
    const record = await apiJson(`/v1/invocations/${encodeURIComponent(id)}`);
    pre.textContent = record?.stderr_tail || record?.stderr || '(no stderr)';
  } catch (error) {
    pre.textContent = `Could not load: ${error.message}`;
  }
}

// Charts are drawn at their real pixel width so that text stays legible on
// a phone; redraw when a chart's box changes width.
const resizeObserver = new ResizeObserver((entries) => {
  let changed = false;
  for (const entry of entries) {
    for (const figure of entry.target.querySelectorAll('figure.chart')) {
      if (chartWidths.get(figure) !== Math.round(figure.clientWidth)) changed = true;
    }
  }
  if (changed) drawCharts(sortedRecords());
});

// ---- wiring ----------------------------------------------------------------

function setLive(live) {
  state.live = live;
  const button = $('#live-toggle');
  button.setAttribute('aria-pressed', String(live));
  button.textContent = live ? 'Live updates on' : 'Live updates paused';
  setConnection(live ? 'live' : 'paused', live ? 'Live' : 'Paused');
  if (live) poll();
  else clearTimeout(pollTimer);
}

function start() {
  $('#functions-body').addEventListener('click', onFunctionAction);
  $('#deploy-form').addEventListener('submit', onDeploy);
  $('#deploy-form').addEventListener('reset', () => {
    setTimeout(updateDeployHint);
    for (const input of $('#deploy-form').querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
  });
  $('#deploy-name').addEventListener('input', updateDeployHint);
  $('#deploy-wasm').addEventListener('change', (event) => {
    const file = event.target.files[0];
    const name = $('#deploy-name');
    // Suggest a name from the file: "hello.wasm" → "hello".
    if (file && !name.value.trim()) {
      const guess = file.name.replace(/\.wasm$/i, '').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+/, '').slice(0, 63);
      if (guess) name.value = guess;
      updateDeployHint();
    }
  });
  $('#invoke-form').addEventListener('submit', onInvoke);
  $('#invoke-function').addEventListener('change', syncRuntimeChoice);
  $('#invoke-input').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      $('#invoke-form').requestSubmit();
    }
  });
  $('#filter-function').addEventListener('change', () => { $('#invocations-body').replaceChildren(); drawRecords(true); });
  $('#filter-runtime').addEventListener('change', () => { $('#invocations-body').replaceChildren(); drawRecords(true); });
  $('#live-toggle').addEventListener('click', () => setLive(!state.live));
  $('#invocations-more').addEventListener('click', () => {
    state.tableRows += TABLE_PAGE;
    drawRecords(true);
  });
  $('#token-button').addEventListener('click', () => askForToken());
  $('#detail-function').addEventListener('change', (event) => selectDetail(event.target.value));
  $('#versions-body').addEventListener('click', onVersionAction);
  $('#live-log-clear').addEventListener('click', () => {
    $('#live-log').replaceChildren();
    detail.seen.clear();
  });
  document.addEventListener('visibilitychange', () => { if (!document.hidden && state.live) poll(); });
  resizeObserver.observe($('#charts'));

  updateTokenButton();
  syncFunctionPickers();
  poll();
}

start();
