// Settings > Private Integrations. Everything user-supplied is written with textContent: never parsed as
// HTML. Who may do what, the rotation overlap and the time come from GET /me: nothing is re-implemented.
const API_VERSION = "2021-07-28";
const BASE = location.pathname.replace(/\/+$/, "");
const $ = (id) => document.getElementById(id);
const state = { session: null, me: null, scopes: [], owner: null, items: [], editing: null, skew: 0 };

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

class ApiError extends Error {
  constructor(status, body) {
    const message = Array.isArray(body && body.message) ? body.message : [(body && body.message) || `HTTP ${status}`];
    super(message.join("; "));
    this.status = status;
    this.problems = message;
  }
}
// The session ended (401): the sign-in box is already showing, nothing else to report.
class SignedOut extends Error {}

async function api(method, path, body) {
  const headers = { "Version": API_VERSION, "Authorization": `Bearer ${state.session}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { message: `Unexpected answer (HTTP ${response.status}).` }; }
  if (response.status === 401) {
    signOut(`${data && data.message ? data.message : "Your session has ended."}`, "error");
    throw new SignedOut();
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// --- notices: one error or one success message at a time ---
function problemsNode(problems) {
  if (problems.length < 2) return document.createTextNode(problems[0] || "");
  return el("div", {}, el("strong", { text: "Please fix the following:" }),
    el("ul", { class: "problems" }, ...problems.map((p) => el("li", { text: p }))));
}
function showError(error) {
  $("message").hidden = true;
  $("error").replaceChildren(problemsNode(error.problems || [error.message || String(error)]));
  $("error").hidden = false;
}
function showMessage(text, kind = "info") {
  $("error").hidden = true;
  $("message").className = `notice ${kind}`;
  $("message").textContent = text;
  $("message").hidden = !text;
}
const succeeded = (text) => showMessage(text, "success");

async function guarded(action) {
  try { await action(); } catch (error) { if (!(error instanceof SignedOut)) showError(error); }
}

// --- time: the server's clock (GET /me's serverTime), so a wrong clock here cannot mislead ---
const serverNow = () => Date.now() + state.skew;
const formatTime = (iso) => iso ? new Date(iso).toLocaleString() : "Never";

function duration(ms) {
  const minutes = Math.floor(ms / 60000), hours = Math.floor(minutes / 60), days = Math.floor(hours / 24);
  if (days > 0) return `${days} day${days === 1 ? "" : "s"}${hours % 24 ? ` ${hours % 24} h` : ""}`;
  if (hours > 0) return `${hours} h${minutes % 60 ? ` ${minutes % 60} min` : ""}`;
  return `${Math.max(minutes, 1)} min`;
}
const timeLeft = (iso) => `${duration(new Date(iso).getTime() - serverNow())} left`;
// --- a token's expiry: chosen at create and rotate (Never, 30, 60, 90 days or a date) ---
const EXPIRY_WARNING_DAYS = 7;
const DAY = 86400000;
function expiryChooser(box, label) {
  const select = el("select", { "aria-label": "Token expiration" },
    el("option", { value: "", text: "Never expires" }),
    ...[30, 60, 90].map((days) => el("option", { value: String(days), text: `Expires in ${days} days` })),
    el("option", { value: "custom", text: "Custom date…" }));
  const date = el("input", { type: "date", "aria-label": "Expiration date", hidden: "" });
  select.addEventListener("change", () => {
    date.hidden = select.value !== "custom";
    const day = (offset) => new Date(serverNow() + offset * DAY).toISOString().slice(0, 10);
    date.min = day(1); date.max = day(365);
  });
  box.replaceChildren(el("label", { text: label }), select, date);
  return {
    reset() { select.value = ""; date.value = ""; date.hidden = true; },
    // The body fields: {} (never), {expiresInDays} or {expiresAt} (the end of the chosen local day).
    body() {
      if (select.value === "custom") return { expiresAt: date.value ? new Date(`${date.value}T23:59:59`).toISOString() : null };
      return select.value ? { expiresInDays: Number(select.value) } : {};
    },
  };
}
const createExpiry = expiryChooser($("create-expiry"), "Expiration");
// In a rotation the choice is the new token's: the old one's end is said in the dialog's text.
const rotateExpiry = expiryChooser($("confirm-expiry"), "New token's expiration");
// "Expires …" under a token, a warning within EXPIRY_WARNING_DAYS, "Expired" once past (server's clock).
function expiryNote(iso) {
  const left = new Date(iso).getTime() - serverNow();
  if (left <= 0) return el("div", { class: "expired", text: `Expired ${formatTime(iso)}: rotate to get a working token` });
  if (left <= EXPIRY_WARNING_DAYS * DAY) return el("div", { class: "expires-soon", text: `⚠ Expires soon: ${duration(left)} left (${formatTime(iso)})` });
  return el("div", { class: "muted", text: `Expires ${formatTime(iso)}` });
}

// A rotation the list showed as pending may have ended since (the page stays open): then Cancel and
// Expire Now would be refused, and Rotate later is possible again.
const pending = (item) => Boolean(item.rotation) && new Date(item.rotation.expiresAt).getTime() > serverNow();

// --- who may do what: GET /me's canManage ---
const owners = () => state.me.canManage.map((owner) => ({
  ...owner, label: owner.type === "agency" ? `Agency: ${owner.name}` : `Sub-account: ${owner.name}`,
}));
const ownerPath = (owner) => owner.type === "agency" ? `/agencies/${encodeURIComponent(owner.id)}` : `/locations/${encodeURIComponent(owner.id)}`;
const itemPath = (item, suffix = "") => `/private-integrations/${encodeURIComponent(item.id)}${suffix}`;
const hint = (text) => el("code", { class: "hint", text });

// --- rendering ---
// Each location's use of its daily rate limit today (the list answer's dailyUsage).
function renderUsage() {
  const usage = state.usage || [];
  $("usage").hidden = usage.length === 0;
  $("usage").replaceChildren(el("strong", { text: "API requests today (daily limit per location, resets 00:00 UTC): " }),
    ...usage.map((u, i) => el("span", { class: "usage-item", "data-location": u.locationId,
      text: `${i ? " · " : ""}${u.name}: ${u.used.toLocaleString("en-US")} of ${u.limit.toLocaleString("en-US")}` })));
}

function render() {
  renderUsage();
  $("list").querySelector("tbody").replaceChildren(...state.items.map(row));
  const empty = state.items.length === 0;
  $("list").hidden = empty;
  $("create").hidden = empty;
  $("empty").hidden = !empty;
  $("empty-title").textContent = `No private integrations for ${state.owner.name} yet`;
  $("empty-owner").textContent = state.owner.name;
}

function row(item) {
  const nameCell = el("td", { class: "name" }, el("strong", { text: item.name }), el("div", { class: "muted", text: item.description || "" }));
  if (item.rotationRecommended) nameCell.append(el("div", {}, el("span", { class: "badge", text: "Rotation recommended" })));
  const tokenCell = el("td", { "data-label": "Token" }, hint(item.token.hint));
  if (item.revocation) tokenCell.append(leak(item));
  else if (item.token.expiresAt) tokenCell.append(expiryNote(item.token.expiresAt));
  if (item.rotation && !pending(item)) {
    tokenCell.append(el("div", { class: "rotation muted" }, "Rotation over: ", hint(item.rotation.previousTokenHint), " no longer works"));
  } else if (item.rotation) {
    const old = item.rotation.previousTokenHint;
    tokenCell.append(el("div", { class: "rotation" },
      el("div", {}, "Rotating: ", hint(old), ` still works, ${timeLeft(item.rotation.expiresAt)}`),
      el("button", { type: "button", onclick: () => confirm({
        title: `Cancel the rotation of "${item.name}"?`,
        text: `The new token (${item.token.hint}) stops working now and ${old} stays the token of "${item.name}". Apps already using the new token will get 401.`,
        button: "Cancel rotation", danger: true,
        action: async () => {
          await api("POST", itemPath(item, "/rotation/cancel"), {});
          await load();
          succeeded(`Rotation of "${item.name}" cancelled: ${old} is the current token again; ${item.token.hint} no longer works.`);
        } }), text: "Cancel rotation" }),
      el("button", { type: "button", class: "danger", onclick: () => guarded(async () => {
        const facts = oldTokenFacts(item, await usageOf(item, 1));
        confirm({
          title: `Expire the old token of "${item.name}" now?`,
          text: `${old} stops working now, without waiting for the end of the overlap. Only ${item.token.hint} works afterwards. ${facts}`,
          button: "Expire now", danger: true,
          action: async () => {
            await api("POST", itemPath(item, "/rotation/expire-now"), {});
            await load();
            succeeded(`The old token ${old} of "${item.name}" has expired; ${item.token.hint} is the only one that works.`);
          } });
      }), text: "Expire now" }),
      el("div", { class: "old-token-use muted", "data-old-token": item.id }),
    ));
  }
  return el("tr", { "data-id": item.id },
    nameCell,
    el("td", { "data-label": "Scopes" }, el("div", { class: "scopes" }, ...item.scopes.map((s) => el("span", { class: "chip", text: s }))),
      el("div", { class: "muted burst", text: `Burst limit: ${item.rateLimits.burstMax} per ${item.rateLimits.burstIntervalMilliseconds / 1000} s${item.burstLimit === null ? "" : " (lowered)"}` }),
      el("div", { class: "muted ips", text: addressesSummary(item) })),
    tokenCell,
    el("td", { "data-label": "Created", text: formatTime(item.createdAt) }),
    el("td", { "data-label": "Last used", class: "last-used" },
      el("div", { class: "last-use", text: formatTime(item.lastUsedAt) }),
      el("div", { class: "usage-chart", "data-chart": item.id })),
    el("td", { class: "row-menu" }, menu(item)),
  );
}

// The current token was revoked because GitHub found it in public: where, and the way out (a new token).
function leak(item) {
  const found = item.revocation;
  // The URL is GitHub's report: a link only when it is an https address, shown as text either way.
  const where = found.url && found.url.startsWith("https://")
    ? el("a", { href: found.url, target: "_blank", rel: "noopener noreferrer", text: found.url })
    : el("span", { text: found.url || "a public place" });
  return el("div", { class: "leak" },
    el("span", { class: "badge danger", text: "Revoked: leaked" }),
    el("div", {}, "GitHub found this token in public ", found.source ? `(${found.source}) ` : "", "at ", where,
      ` on ${formatTime(found.at)}; it no longer works.`),
    el("button", { type: "button", class: "primary", onclick: () => guarded(() => rotateLeaked(item)), text: "Rotate" }));
}

function menu(item) {
  const items = el("div", { class: "menu-items", hidden: "" });
  const close = () => { items.hidden = true; };
  const entry = (text, handler, cls = "") => el("button", { type: "button", class: cls, onclick: () => { close(); handler(); }, text });
  const overlap = duration(state.me.rotation.overlapSeconds * 1000);
  items.append(entry("Edit", () => openEditor(item)));
  // Rotate later while a rotation is pending would be refused (409): not offered then. Nor for a
  // revoked (leaked) token, which has nothing left to keep working: the row's own Rotate replaces it.
  if (!pending(item) && !item.revocation) {
    items.append(entry("Rotate and expire this token later", () => confirm({
      title: `Rotate the token of "${item.name}"?`,
      text: `A new token is created now. The current token (${item.token.hint}) keeps working for ${overlap} so you can update your app, then it expires.`,
      button: "Rotate", withExpiry: true,
      action: () => rotate(item, "later") })));
  }
  items.append(
    entry("Rotate and expire this token now", () => confirm({
      title: `Rotate the token of "${item.name}" and expire it now?`,
      text: `A new token is created and every earlier token of "${item.name}" stops working immediately. Use this if the token was exposed.`,
      button: "Rotate and expire now", danger: true, withExpiry: true,
      action: () => rotate(item, "now") })),
    entry("Delete", () => confirm({
      title: `Delete "${item.name}"?`,
      text: `"${item.name}" and all of its tokens will stop working immediately. This cannot be undone.`,
      button: "Delete", danger: true,
      action: () => remove(item) }), "danger"),
  );
  const toggle = el("button", { type: "button", "aria-label": `Actions for ${item.name}`, class: "menu-toggle", text: "⋮",
    onclick: (event) => { event.stopPropagation(); document.querySelectorAll(".menu-items").forEach((m) => { if (m !== items) m.hidden = true; }); items.hidden = !items.hidden; } });
  return el("div", { class: "menu" }, toggle, items);
}
document.addEventListener("click", () => document.querySelectorAll(".menu-items").forEach((m) => { m.hidden = true; }));

// A question naming the integration, answered by a button named for the action: red when it stops a
// token or deletes. `withExpiry`: a rotation, where the new token may choose its own expiry.
function confirm({ title, text, button, action, danger = false, withExpiry = false }) {
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-expiry").hidden = !withExpiry;
  rotateExpiry.reset();
  const go = $("confirm-continue");
  go.textContent = button;
  go.className = danger ? "danger" : "primary";
  go.onclick = () => { $("confirm-dialog").close(); guarded(action); };
  $("confirm-dialog").showModal();
}

// `kept`: the success notice once the token is closed (the "copy it now" advice is over by then).
let tokenKept = "";
function showToken(token, kept) {
  tokenKept = kept;
  $("token-value").textContent = token;
  $("token-copy").textContent = "Copy";
  $("token-dialog").showModal();
}
$("token-copy").addEventListener("click", async () => {
  try { await navigator.clipboard.writeText($("token-value").textContent); $("token-copy").textContent = "Copied"; }
  catch { showError(new Error("Could not copy automatically: select the token and copy it by hand.")); }
});
$("token-dialog").addEventListener("close", () => {
  $("token-value").textContent = "";
  if (tokenKept) succeeded(tokenKept);
  tokenKept = "";
});
// The token leaves the page as the dialog closes (the "close" event comes a task later).
$("token-close").addEventListener("click", () => { $("token-value").textContent = ""; $("token-dialog").close(); });
$("confirm-cancel").addEventListener("click", () => $("confirm-dialog").close());

// --- actions ---
async function load() {
  const owner = state.owner;
  const data = await api("GET", `${ownerPath(owner)}/private-integrations`);
  if (owner !== state.owner) return; // another owner was picked meanwhile: its own load renders it
  state.items = data.privateIntegrations;
  state.usage = data.dailyUsage;
  state.usageCache = {};
  render();
  for (const item of state.items) loadUsage(item);
}

// --- usage per integration (GET .../usage): a chart by outcome, the last use, the old token's use ---
const OUTCOMES = [["allowed", "allowed"], ["forbidden", "forbidden (403)"], ["rateLimited", "rate-limited (429)"]];
const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}
const chartDays = () => Number($("usage-days").value || 7);

// One answer per integration and window, kept until the list is loaded again.
async function usageOf(item, days) {
  state.usageCache = state.usageCache || {};
  const key = `${item.id}:${days}`;
  if (!state.usageCache[key]) state.usageCache[key] = api("GET", itemPath(item, `/usage?days=${days}`));
  try { return await state.usageCache[key]; } catch (error) { delete state.usageCache[key]; throw error; }
}

const both = (bucket, outcome) => bucket.current[outcome] + bucket.previous[outcome];
const plural = (n, word) => `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;

// Stacked bars: one per hour (7 days) or day (30 days), allowed at the bottom, then 403, then 429.
function chart(usage) {
  const buckets = usage.buckets;
  const highest = Math.max(1, ...buckets.map((b) => OUTCOMES.reduce((sum, [o]) => sum + both(b, o), 0)));
  const height = 40;
  const graphic = svg("svg", { viewBox: `0 0 ${buckets.length} ${height}`, preserveAspectRatio: "none", class: "chart", role: "img" });
  const totals = Object.fromEntries(OUTCOMES.map(([o]) => [o, usage.totals.current[o] + usage.totals.previous[o]]));
  const days = usage.granularity === "hour" ? Math.round(buckets.length / 24) : buckets.length;
  const label = `Requests in the last ${days} days: `
    + OUTCOMES.map(([o, name]) => `${totals[o].toLocaleString("en-US")} ${name}`).join(", ");
  graphic.setAttribute("aria-label", label);
  graphic.append(Object.assign(svg("title"), { textContent: label }));
  buckets.forEach((bucket, x) => {
    let y = height;
    for (const [outcome] of OUTCOMES) {
      const n = both(bucket, outcome);
      if (!n) continue;
      const h = Math.max(1, (n / highest) * height);
      y -= h;
      graphic.append(svg("rect", { x, y, width: 0.9, height: h, class: `bar ${outcome}`, "data-outcome": outcome, "data-count": n }));
    }
  });
  const legend = el("div", { class: "legend" }, ...OUTCOMES.map(([o, name]) =>
    el("span", { class: `key ${o}`, text: `${totals[o].toLocaleString("en-US")} ${name}` })));
  return el("div", {}, graphic, legend);
}

function lastUseText(use) {
  if (!use) return "Never";
  return `${formatTime(use.at)} from ${use.ip || "an unknown address"}${use.userAgent ? ` (${use.userAgent})` : ""}`;
}

// The rotating-out token since the rotation began: its last use, or none.
function oldTokenUse(item, usage) {
  const use = usage.lastUsedByToken && usage.lastUsedByToken.previous;
  return use && new Date(use.at) >= new Date(item.rotation.startedAt) ? use : null;
}
function oldTokenFacts(item, usage) {
  const use = oldTokenUse(item, usage);
  const requests = usage.totals.previous.allowed + usage.totals.previous.forbidden + usage.totals.previous.rateLimited;
  if (!use) return `The old token has not been used since the rotation (${formatTime(item.rotation.startedAt)}).`;
  return `The old token was last used ${lastUseText(use)}; ${plural(requests, "request")} in the last 24 hours.`;
}

async function loadUsage(item) {
  const owner = state.owner;
  let usage;
  try { usage = await usageOf(item, chartDays()); } catch (error) { if (!(error instanceof SignedOut)) showError(error); return; }
  if (owner !== state.owner) return;
  const box = document.querySelector(`[data-chart="${CSS.escape(item.id)}"]`);
  if (box) box.replaceChildren(chart(usage));
  const last = box && box.parentElement.querySelector(".last-use");
  if (last) last.textContent = usage.lastUsed ? lastUseText(usage.lastUsed) : formatTime(item.lastUsedAt);
  if (!pending(item)) return;
  const day = await usageOf(item, 1);
  const hintBox = document.querySelector(`[data-old-token="${CSS.escape(item.id)}"]`);
  if (hintBox) hintBox.textContent = oldTokenFacts(item, day);
}

async function rotate(item, expire) {
  const data = await api("POST", itemPath(item, "/rotate"), { expire, ...rotateExpiry.body() });
  await load();
  succeeded(expire === "later"
    ? `"${item.name}" has a new token; ${item.token.hint} keeps working for ${duration(state.me.rotation.overlapSeconds * 1000)}.`
    : `"${item.name}" has a new token; every earlier token stopped working.`);
  showToken(data.token);
}

// From the revoked state nothing that still works is revoked ("later" keeps a token rotating out).
async function rotateLeaked(item) {
  const data = await api("POST", itemPath(item, "/rotate"), { expire: "later" });
  await load();
  succeeded(`"${item.name}" has a new token; the leaked token ${item.token.hint} stays revoked.`);
  showToken(data.token);
}

async function remove(item) {
  await api("DELETE", itemPath(item));
  await load();
  succeeded(`"${item.name}" was deleted; its tokens no longer work.`);
}

// --- create and edit: step 1 name and description, step 2 scopes ---
const chosen = new Set();
let grantedBefore = new Set(); // when editing: the scopes it had, listed first

function matches(scope, filter) {
  return !filter || scope.name.toLowerCase().includes(filter) || scope.description.toLowerCase().includes(filter);
}

function scopeGroups(filter) {
  const groups = new Map();
  const add = (group, scope) => { if (!groups.has(group)) groups.set(group, []); groups.get(group).push(scope); };
  const available = state.scopes
    .filter((scope) => scope.levels.includes(state.owner.type) && matches(scope, filter))
    .sort((a, b) => a.name.localeCompare(b.name));
  for (const scope of available) if (grantedBefore.has(scope.name)) add("Granted now", scope);
  for (const scope of available) if (!grantedBefore.has(scope.name)) add(scope.name.split(/[./]/)[0], scope);
  return groups;
}

function renderScopes() {
  const filter = $("scope-search").value.trim().toLowerCase();
  const list = $("scope-list");
  list.replaceChildren();
  for (const [group, scopes] of scopeGroups(filter)) {
    const all = scopes.every((scope) => chosen.has(scope.name));
    const toggle = el("button", { type: "button", class: "link", "data-group": group, text: all ? "Clear" : "Select all",
      "aria-label": `${all ? "Clear" : "Select all"} ${group}`,
      onclick: () => { scopes.forEach((scope) => all ? chosen.delete(scope.name) : chosen.add(scope.name)); renderScopes(); } });
    list.append(el("div", { class: "scope-group" },
      el("div", { class: "group-head" }, el("h3", { text: group }), toggle),
      ...scopes.map((scope) => {
        const box = el("input", { type: "checkbox", value: scope.name, "data-scope": scope.name });
        box.checked = chosen.has(scope.name);
        box.addEventListener("change", () => { box.checked ? chosen.add(scope.name) : chosen.delete(scope.name); renderScopes(); });
        return el("label", { title: scope.routes.join("\n") }, box, el("span", { text: scope.name }), el("span", { class: "what", text: scope.description }));
      })));
  }
  if (!list.childElementCount) list.append(el("p", { class: "muted", text: "No scope matches your search." }));
  countScopes();
}
function countScopes() {
  $("scope-count").textContent = chosen.size
    ? `${chosen.size} scope${chosen.size === 1 ? "" : "s"} selected`
    : "Choose at least one scope: the token can call only what its scopes open.";
  $("create-submit").disabled = chosen.size === 0;
  $("scope-chosen").replaceChildren(...[...chosen].sort().map((name) => el("span", { class: "chip", text: name })));
}

function step(n) {
  $("step-1").hidden = n !== 1; $("step-2").hidden = n !== 2;
  $("create-next").hidden = n !== 1; $("create-back").hidden = n !== 2; $("create-submit").hidden = n !== 2;
  $("create-step-label").textContent = n === 1 ? "Step 1 of 2: name, description and addresses" : "Step 2 of 2: scopes";
  if (n === 2) renderScopes();
}

const FIELDS = ["name", "description", "scopes", "expiry", "burstLimit", "allowedIps", "ipRestriction"];
// The API names the expiry's fields; the page has one "expiry" control for both. A list's entries are
// named by position: "allowedIps[2] ('10.0.0.0/33'): …".
const fieldOf = (problem) => /^(send )?expires(InDays|At)\b/.test(problem) ? "expiry"
  : FIELDS.find((f) => problem.startsWith(`${f} `) || problem.startsWith(`${f}:`) || problem.startsWith(`${f}[`));

// --- the IP allowlist (issue 28): one address or CIDR block per line; the server normalises and checks ---
function addressesSummary(item) {
  const count = item.allowedIps.length;
  if (!count) return "IP addresses: any";
  const mode = item.ipRestriction === "report" ? "report only" : "enforced";
  return `IP addresses: ${count} allowed (${mode})`;
}
function typedAddresses() {
  return $("allowed-ips").value.split(/[\s,]+/).map((entry) => entry.trim()).filter(Boolean);
}
function resetAddresses(item) {
  $("allowed-ips").value = item ? item.allowedIps.join("\n") : "";
  const mode = item ? item.ipRestriction : "enforce";
  $("ip-enforce").checked = mode === "enforce";
  $("ip-report").checked = mode === "report";
  showSeenAddresses([]);
}
// Usage fetched fresh when the editor opens (the chart's answer may be older than the latest requests),
// and kept for the chart too. Shown only if the dialog still edits this integration; without it the
// editor works as before (no section).
async function seenFor(item) {
  state.usageCache = state.usageCache || {};
  delete state.usageCache[`${item.id}:7`];
  let usage;
  try { usage = await usageOf(item, 7); } catch { return; }
  if (state.editing !== item || !$("create-dialog").open) return;
  showSeenAddresses((usage.addresses || []).filter((seen) => !seen.allowed).map((seen) => seen.ip));
}
function chosenRestriction() {
  return $("ip-report").checked ? "report" : "enforce";
}

// The addresses that used this integration's token in the last 7 days and its current list does not
// admit (usage's `addresses` with `allowed` false: the server matches them as the authorizer does, CIDR
// blocks included): it lists the ones not yet typed in the list and offers one button, "Allow these",
// that adds them to the list being edited (saved with the rest of the form). An empty list hides the
// section. Called by seenFor when the editor opens.
export function showSeenAddresses(addresses) {
  const listed = new Set(typedAddresses());
  const missing = [...new Set(addresses)].filter((address) => !listed.has(address));
  $("seen-ips").hidden = missing.length === 0;
  $("seen-ips-text").textContent = missing.length
    ? `${missing.length} address${missing.length === 1 ? "" : "es"} used this token in the last 7 days and ${missing.length === 1 ? "is" : "are"} not on the list:`
    : "";
  $("seen-ips-list").replaceChildren(...missing.map((address) => el("span", { class: "chip", text: address })));
  $("seen-ips-allow").onclick = () => {
    $("allowed-ips").value = [...typedAddresses(), ...missing].join("\n");
    showSeenAddresses(addresses);
  };
}
function clearProblems() {
  $("dialog-error").hidden = true;
  for (const field of FIELDS) { $(`${field}-error`).hidden = true; $(`${field}-error`).textContent = ""; }
  $("name").classList.remove("invalid"); $("description").classList.remove("invalid");
}
// The API's problems start with the field they are about ("name is required…"): each goes next to
// its field, the rest above the form; the dialog shows the step of the first field with a problem.
function showProblems(error) {
  clearProblems();
  const other = [];
  let first = null;
  for (const problem of error.problems || [error.message || String(error)]) {
    const field = fieldOf(problem);
    if (!field) { other.push(problem); continue; }
    const box = $(`${field}-error`);
    box.textContent = box.textContent ? `${box.textContent} ${problem}` : problem;
    box.hidden = false;
    if (field === "name" || field === "description") $(field).classList.add("invalid");
    first = first || field;
  }
  if (other.length) { $("dialog-error").replaceChildren(problemsNode(other)); $("dialog-error").hidden = false; }
  if (first) step(first === "scopes" ? 2 : 1);
}

function openDialog(item) {
  state.editing = item;
  $("create-title").textContent = item ? `Edit "${item.name}"` : "Create new integration";
  $("create-submit").textContent = item ? "Save" : "Create";
  $("name").value = item ? item.name : ""; $("description").value = item ? item.description || "" : ""; $("scope-search").value = "";
  chosen.clear();
  grantedBefore = new Set(item ? item.scopes : []);
  grantedBefore.forEach((s) => chosen.add(s));
  createExpiry.reset();
  $("create-expiry").hidden = Boolean(item); // an expiry is chosen with a new token, never edited
  // Only agency admins may lower an integration's burst limit (the API answers 403 to anyone else).
  const admin = state.me.user.type === "agency" && state.me.user.role === "admin";
  $("burst-box").hidden = !(item && admin);
  $("burst-limit").value = item && item.burstLimit !== null ? String(item.burstLimit) : "";
  resetAddresses(item);
  clearProblems();
  step(1);
  $("create-dialog").showModal();
  if (item) seenFor(item);
}
const openEditor = (item) => openDialog(item);

$("create").addEventListener("click", () => openDialog(null));
$("empty-create").addEventListener("click", () => openDialog(null));
$("create-cancel").addEventListener("click", () => $("create-dialog").close());
$("create-back").addEventListener("click", () => step(1));
$("create-next").addEventListener("click", () => {
  clearProblems();
  if (!$("name").value.trim()) {
    showProblems({ problems: ["name is required: give the integration a name you will recognise."] });
    $("name").focus();
    return;
  }
  step(2);
});
$("scope-search").addEventListener("input", renderScopes);
$("create-submit").addEventListener("click", async () => {
  const editing = state.editing;
  const body = {
    name: $("name").value, description: $("description").value, scopes: [...chosen],
    allowedIps: typedAddresses(), ipRestriction: chosenRestriction(),
    ...(editing ? {} : createExpiry.body()),
  };
  if (editing && !$("burst-box").hidden) {
    const typed = $("burst-limit").value.trim();
    const limit = typed === "" ? null : Number(typed);
    if (limit !== editing.burstLimit) body.burstLimit = limit;
  }
  $("create-submit").disabled = true;
  try {
    const data = editing
      ? await api("PATCH", itemPath(editing), body)
      : await api("POST", `${ownerPath(state.owner)}/private-integrations`, body);
    $("create-dialog").close();
    await load();
    if (editing) {
      succeeded(`Saved "${data.privateIntegration.name}": its token is unchanged and the changes apply to its next request.`);
    } else {
      const name = data.privateIntegration.name;
      succeeded(`Created "${name}". Copy its token now: it is shown only once.`);
      showToken(data.token, `Created "${name}". Its token is no longer shown: if it was not copied, rotate to get a new one.`);
    }
  } catch (error) {
    // The dialog stays open with what was typed; each problem is shown next to its field.
    if (!(error instanceof SignedOut)) showProblems(error);
  } finally {
    countScopes();
  }
});

$("usage-days").addEventListener("change", () => { for (const item of state.items) loadUsage(item); });
$("owner").addEventListener("change", () => guarded(async () => {
  state.owner = owners()[Number($("owner").value)];
  $("owner-caption").textContent = state.owner.label;
  showMessage("");
  await load();
}));

// --- signing in and out: the session comes from #session=… (make run, make session) or the box ---
function signOut(reason, kind = "info") {
  sessionStorage.removeItem("session");
  state.session = null;
  state.me = null;
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  $("content").hidden = true; $("owner-picker").hidden = true; $("who").hidden = true;
  $("sign-in").hidden = false;
  $("session-input").value = "";
  if (kind === "error") showError(new Error(reason)); else showMessage(reason);
}

// Who a session names (its `sub`), for the question below only: the server checks the signature.
function userOf(session) {
  try {
    const part = session.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const sub = JSON.parse(atob(part)).sub;
    return typeof sub === "string" && sub ? sub : "an unknown user";
  } catch { return "an unknown user"; }
}

async function start() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("session");
  if (fromHash) {
    history.replaceState(null, "", location.pathname);
    const stored = sessionStorage.getItem("session");
    if (stored && stored !== fromHash) {
      // Sign-in CSRF: a link may carry someone else's session. Keep ours unless the user says so.
      confirm({
        title: "Switch to another user?",
        text: `You are signed in as ${userOf(stored)}. The link you opened would sign you in as ${userOf(fromHash)} instead. `
          + `Switch only if you asked for this link; Cancel keeps you signed in as ${userOf(stored)}.`,
        button: `Switch to ${userOf(fromHash)}`,
        action: async () => { sessionStorage.setItem("session", fromHash); await start(); },
      });
    } else {
      sessionStorage.setItem("session", fromHash);
    }
  }
  state.session = sessionStorage.getItem("session");
  if (!state.session) { signOut("Sign in with a session token to manage Private Integrations."); return; }
  $("sign-in").hidden = true;
  await guarded(async () => {
    const asked = Date.now();
    state.me = await api("GET", "/me");
    state.skew = new Date(state.me.serverTime).getTime() - (asked + Date.now()) / 2;
    $("who-name").textContent = `Signed in as ${state.me.user.id}`;
    $("who").hidden = false;
    if (!state.me.labs.privateIntegrations) {
      showMessage("Private Integrations is not enabled for this agency. Ask an agency admin to enable Private Integrations in Settings > Labs.");
      return;
    }
    const mine = owners();
    if (!mine.length) {
      showMessage("You do not have permission to manage Private Integrations. Ask an agency admin to grant it.");
      return;
    }
    state.scopes = (await api("GET", "/scopes")).scopes;
    $("owner").replaceChildren(...mine.map((owner, i) => el("option", { value: String(i), text: owner.label })));
    $("owner-picker").hidden = false;
    state.owner = mine[0];
    $("owner-caption").textContent = state.owner.label;
    $("content").hidden = false;
    showMessage("");
    await load();
  });
}
$("session-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const pasted = $("session-input").value.trim().replace(/^(export\s+)?SESSION=/, "").replace(/^.*#session=/, "");
  if (!pasted) { showError(new Error("Paste a session token first.")); return; }
  sessionStorage.setItem("session", pasted);
  start();
});
// Time left and what can succeed change with time alone: redraw the list every 30 s.
setInterval(() => { if (state.owner && state.me && !$("content").hidden) render(); }, 30000);
$("sign-out").addEventListener("click", () => signOut("You are signed out. Sign in again with a session token."));
start();
