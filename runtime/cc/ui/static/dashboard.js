// The seqmesh dashboard: plain JS, no build step. Reads the CC's REST API and follows /v1/stream
// (docs/api.md, "Streams"): prices, the selected symbol's book, the client's orders and fills,
// algo status. A dropped stream reconnects and resumes orders and fills after their last event_seq.
"use strict";

const KEY_SLOT = "seqmesh.key";
const BOOK_DEPTH = 20;
const MESH_POLL_MS = 2000;
const MAX_FILLS_SHOWN = 200;
const FILL_HISTORY_PAGES = 3; // GET /v1/fills pages oldest first: a longer history is followed live only
const RECONNECT_MS = [500, 1000, 2000, 5000, 10000];
const VENUE_COLORS = ["#2563eb", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#475569"];

const $ = (id) => document.getElementById(id);

/** An element with attributes and children (strings become text: nothing is parsed as HTML). */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const td = (value, cls) => el("td", { class: cls }, value === null || value === undefined ? "–" : value);
const num = (value) => td(value, "num");
const time = (ns) => (ns ? new Date(Number(ns) / 1e6).toLocaleTimeString() : "–");

/** Replace a cell's text, flashing it when the value changed. */
function setCell(cell, value) {
  const text = value === null || value === undefined ? "–" : String(value);
  if (cell.textContent !== text) {
    cell.textContent = text;
    cell.classList.remove("flash");
    void cell.offsetWidth; // restart the animation
    cell.classList.add("flash");
  }
}

/** Insert a row (`data-at`: its time in ns) among rows kept newest first. */
function newestFirst(body, tr) {
  const at = BigInt(tr.dataset.at || 0);
  const later = [...body.rows].find((r) => BigInt(r.dataset.at || 0) < at);
  body.insertBefore(tr, later || null);
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error ? body.error.code : `HTTP_${status}`;
  }
}

class Dashboard {
  constructor() {
    this.key = sessionStorage.getItem(KEY_SLOT) || "";
    this.ws = null;
    this.paused = false;
    this.attempt = 0;
    this.seq = 0;
    this.gaps = 0;
    this.epoch = null;
    this.eventSeq = { orders: null, fills: null };
    this.replayed = {}; // channel -> events replayed at the last resume
    this.bbo = new Map(); // symbol -> rows per venue
    this.nbbo = new Map(); // symbol -> nbbo
    this.orders = new Map(); // order id -> view
    this.fillCount = new Map(); // order id -> fills seen
    this.fillIds = new Set();
    this.fillsComplete = true; // every fill of the client is counted (else: those since the page opened)
    this.algos = new Map(); // name -> view
    this.selectedOrder = null;
    this.depthSymbol = null;
    this.book = null;
    this.venueColors = new Map();
    this.meshTimer = null;
    this.priceUpdates = 0;
    this.bookUpdates = 0;
    this.connects = 0;
  }

  // -- REST ---------------------------------------------------------------------------------------

  async api(path, options = {}) {
    const res = await fetch(path, { ...options, headers: { Authorization: `Bearer ${this.key}`, ...options.headers } });
    if (!res.ok) {
      let body = null;
      try { body = await res.json(); } catch (e) { /* not JSON */ }
      throw new ApiError(res.status, body);
    }
    return options.raw ? res : res.json();
  }

  // -- session ------------------------------------------------------------------------------------

  async start() {
    $("login-form").addEventListener("submit", (e) => { e.preventDefault(); this.login($("key").value.trim()); });
    $("forget").addEventListener("click", () => this.logout());
    $("pause").addEventListener("click", () => (this.paused ? this.resume() : this.pause()));
    $("depth-symbol").addEventListener("change", (e) => this.selectDepth(e.target.value));
    try {
      const health = await (await fetch("/healthz")).json();
      $("region").textContent = `region ${health.region}`;
    } catch (e) { /* shown as … */ }
    if (this.key) await this.login(this.key);
  }

  async login(key) {
    this.key = key;
    $("login-error").textContent = "";
    try {
      await this.api("/v1/pairs");
    } catch (e) {
      $("login-error").textContent = e.status === 401 ? "That key is not an active client's key." : e.message;
      sessionStorage.removeItem(KEY_SLOT);
      return;
    }
    sessionStorage.setItem(KEY_SLOT, key);
    $("login").hidden = true;
    $("app").hidden = false;
    $("session-actions").hidden = false;
    await Promise.all([this.loadMarket(), this.loadOrders(), this.loadFills(), this.loadAlgos(), this.loadMesh()]);
    this.meshTimer = setInterval(() => this.loadMesh().catch(() => {}), MESH_POLL_MS);
    this.connect();
  }

  logout() {
    sessionStorage.removeItem(KEY_SLOT);
    location.reload();
  }

  // -- the stream ---------------------------------------------------------------------------------

  connect() {
    const url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/v1/stream`;
    const ws = new WebSocket(url);
    this.ws = ws;
    this.seq = 0;
    this.state("connecting");
    ws.onopen = () => ws.send(JSON.stringify({ op: "auth", key: this.key }));
    ws.onmessage = (e) => { if (this.ws === ws) this.receive(JSON.parse(e.data)); };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (e.code === 4001) { this.logout(); return; }
      if (this.paused) { this.state("paused"); return; }
      const wait = RECONNECT_MS[Math.min(this.attempt++, RECONNECT_MS.length - 1)];
      this.state(`closed (${e.code}${e.code === 4000 ? ": fell behind" : ""}), reconnecting in ${wait / 1000} s`);
      setTimeout(() => { if (!this.paused && !this.ws) this.connect(); }, wait);
    };
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  pause() {
    this.paused = true;
    $("pause").textContent = "Resume live";
    if (this.ws) this.ws.close();
  }

  resume() {
    this.paused = false;
    $("pause").textContent = "Pause live";
    if (!this.ws) this.connect();
  }

  state(text) {
    $("stream-state").textContent = text;
  }

  note(text) {
    $("stream-note").textContent = text;
  }

  /** Orders and fills resume after their last event_seq when this CC process (epoch) still has them. */
  resumeFrom(channel) {
    const after = this.eventSeq[channel];
    return after !== null && this.epoch !== null ? { after, epoch: this.epoch } : {};
  }

  receive(m) {
    if (m.seq !== this.seq + 1) this.gaps += 1; // the CC dropped messages: a resync and a close follow
    this.seq = m.seq;
    $("stream-seq").textContent = this.seq;
    $("stream-gaps").textContent = this.gaps;
    switch (m.type) {
      case "welcome": {
        const resumable = m.epoch === this.epoch;
        if (!resumable) this.eventSeq = { orders: null, fills: null }; // another CC process: start over
        this.replayed = {};
        const orders = this.resumeFrom("orders");
        const fills = this.resumeFrom("fills");
        this.epoch = m.epoch;
        this.attempt = 0;
        this.connects += 1;
        this.state("live");
        $("client").textContent = `client ${m.client}`;
        this.send({ op: "subscribe", channel: "prices" });
        if (this.depthSymbol) this.send({ op: "subscribe", channel: "books", symbols: [this.depthSymbol], depth: BOOK_DEPTH });
        this.send({ op: "subscribe", channel: "orders", ...orders });
        this.send({ op: "subscribe", channel: "fills", ...fills });
        this.send({ op: "subscribe", channel: "algos" });
        break;
      }
      case "subscribed":
        if (m.replayed !== undefined) {
          this.eventSeq[m.channel] = m.event_seq - m.replayed; // the replayed events follow and advance it
          this.replayed[m.channel] = m.replayed;
          this.note(`resumed: ${Object.entries(this.replayed).map(([c, n]) => `${n} ${c}`).join(", ")} replayed`);
        }
        break;
      case "snapshot":
      case "resync":
        if (m.channel === "*") { this.note("the CC dropped this page for falling behind: reconnecting"); break; }
        this.eventSeq[m.channel] = m.event_seq;
        if (m.type === "resync") this.note(`${m.channel}: resynced`);
        if (m.channel === "orders") this.loadOrders();
        else if (m.channel === "fills") this.loadFills();
        break;
      case "prices":
        this.priceUpdates += 1;
        this.bbo.set(m.symbol, m.bbo);
        this.nbbo.set(m.symbol, m.nbbo);
        this.renderSymbol(m.symbol);
        break;
      case "book":
        if (m.symbol === this.depthSymbol) { this.book = m; this.bookUpdates += 1; this.drawDepth(); }
        break;
      case "order":
        this.eventSeq.orders = m.event_seq;
        this.upsertOrder(m.order);
        if (this.selectedOrder === m.order.order_id) this.showOrder(m.order.order_id);
        break;
      case "fill":
        this.eventSeq.fills = m.event_seq;
        this.addFill(m.fill, true);
        if (m.fill.order_id && this.selectedOrder === m.fill.order_id) this.showOrder(m.fill.order_id);
        break;
      case "algo":
        if (m.algo.state === "Removed") this.algos.delete(m.algo.name);
        else this.algos.set(m.algo.name, m.algo);
        this.renderAlgos();
        break;
      case "error":
        if (m.error.code === "ALGOS_UNAVAILABLE") $("algos-note").textContent = "This CC runs no algos.";
        else this.note(`${m.error.code}: ${m.error.message}`);
        break;
      default:
        break;
    }
  }

  // -- NBBO board ---------------------------------------------------------------------------------

  async loadMarket() {
    const pairs = await this.api("/v1/pairs");
    const rows = await this.api("/v1/bbo");
    const symbols = pairs.map((p) => p.symbol);
    for (const s of symbols) this.bbo.set(s, rows.filter((r) => r.symbol === s));
    await Promise.all(symbols.map(async (s) => this.nbbo.set(s, await this.api(`/v1/nbbo/${encodeURIComponent(s)}`))));
    $("board-body").replaceChildren();
    const select = $("depth-symbol");
    select.replaceChildren(...symbols.map((s) => el("option", { value: s }, s)));
    for (const s of symbols) this.renderSymbol(s);
    if (symbols.length) await this.selectDepth(this.depthSymbol || symbols[0]);
  }

  colorOf(venue) {
    if (!this.venueColors.has(venue)) {
      this.venueColors.set(venue, VENUE_COLORS[this.venueColors.size % VENUE_COLORS.length]);
    }
    return this.venueColors.get(venue);
  }

  /** One table per symbol: the NBBO, then every venue's top grouped by region. */
  renderSymbol(symbol) {
    const rows = (this.bbo.get(symbol) || []).slice().sort((a, b) =>
      a.region.localeCompare(b.region) || a.venue.localeCompare(b.venue));
    let table = document.querySelector(`#board-body table[data-symbol="${CSS.escape(symbol)}"]`);
    const layout = rows.map((r) => `${r.region}/${r.venue}`).join(",");
    if (!table || table.dataset.layout !== layout) {
      const fresh = this.boardTable(symbol, rows);
      fresh.dataset.layout = layout;
      if (table) table.replaceWith(fresh); else $("board-body").append(fresh);
      table = fresh;
    }
    const n = this.nbbo.get(symbol);
    const nb = table.querySelector("tr.nbbo-row");
    setCell(nb.querySelector(".bid"), n && n.bid ? n.bid.price : null);
    setCell(nb.querySelector(".bid-qty"), n && n.bid ? `${n.bid.qty} @${n.bid.venue}` : null);
    setCell(nb.querySelector(".ask"), n && n.ask ? n.ask.price : null);
    setCell(nb.querySelector(".ask-qty"), n && n.ask ? `${n.ask.qty} @${n.ask.venue}` : null);
    setCell(nb.querySelector(".mid"), n ? `mid ${n.mid ?? "–"} · ${n.spread_bps ?? "–"} bps${n.crossed ? " · CROSSED" : ""}` : null);
    for (const r of rows) {
      const tr = table.querySelector(`tr[data-venue="${CSS.escape(r.venue)}"]`);
      setCell(tr.querySelector(".bid"), r.bid);
      setCell(tr.querySelector(".bid-qty"), r.bid_qty);
      setCell(tr.querySelector(".ask"), r.ask);
      setCell(tr.querySelector(".ask-qty"), r.ask_qty);
      const stale = tr.querySelector(".stale-cell");
      stale.textContent = r.stale ? "STALE" : "live";
      stale.className = `stale-cell ${r.stale ? "stale" : "up"}`;
    }
  }

  boardTable(symbol, rows) {
    const body = [el("tr", { class: "nbbo-row" }, td("NBBO"), td(symbol),
      ...["bid", "bid-qty", "ask", "ask-qty"].map((cls) => el("td", { class: `num ${cls}` })),
      el("td", { class: "mid", colSpan: 2 }))];
    let region = null;
    for (const r of rows) {
      if (r.region !== region) {
        region = r.region;
        body.push(el("tr", { class: "region-row" }, el("td", { colSpan: 8 }, `${region}${r.remote ? " (remote)" : ""}`)));
      }
      body.push(el("tr", { "data-venue": r.venue, "data-region": r.region },
        td(r.region), td(r.venue), el("td", { class: "num bid" }), el("td", { class: "num bid-qty" }),
        el("td", { class: "num ask" }), el("td", { class: "num ask-qty" }), td(r.remote ? "remote" : "local"),
        el("td", { class: "stale-cell" })));
    }
    return el("table", { class: "symbol", "data-symbol": symbol },
      el("thead", {}, el("tr", {}, el("th", {}, "region"), el("th", {}, "venue"), el("th", { class: "num" }, "bid"),
        el("th", { class: "num" }, "bid size"), el("th", { class: "num" }, "ask"), el("th", { class: "num" }, "ask size"),
        el("th", {}, "where"), el("th", {}, "feed"))),
      el("tbody", {}, body));
  }

  // -- depth chart --------------------------------------------------------------------------------

  async selectDepth(symbol) {
    if (this.depthSymbol && this.depthSymbol !== symbol) this.send({ op: "unsubscribe", channel: "books" });
    this.depthSymbol = symbol;
    $("depth-symbol").value = symbol;
    this.book = await this.api(`/v1/book/${encodeURIComponent(symbol)}?depth=${BOOK_DEPTH}`);
    this.drawDepth();
    this.send({ op: "subscribe", channel: "books", symbols: [symbol], depth: BOOK_DEPTH });
  }

  /** Cumulative depth per side (steps), each level's size split by venue in bars beneath. */
  drawDepth() {
    const canvas = $("depth-canvas");
    const ctx = canvas.getContext("2d");
    const W = canvas.width, H = canvas.height, pad = 36;
    ctx.clearRect(0, 0, W, H);
    const book = this.book;
    if (!book || (!book.bids.length && !book.asks.length)) {
      ctx.fillStyle = "#667085";
      ctx.fillText("no book", W / 2 - 20, H / 2);
      return;
    }
    const cum = (levels) => { let t = 0; return levels.map((l) => ({ ...l, cum: (t += Number(l.qty)) })); };
    const bids = cum(book.bids), asks = cum(book.asks);
    const prices = [...bids, ...asks].map((l) => l.price_f);
    const lo = Math.min(...prices), hi = Math.max(...prices);
    const top = Math.max(...bids.map((l) => l.cum), ...asks.map((l) => l.cum), 1e-12);
    const x = (p) => pad + (hi === lo ? 0.5 : (p - lo) / (hi - lo)) * (W - 2 * pad);
    const y = (q) => H - pad - (q / top) * (H - 2 * pad);
    const side = (levels, color) => {
      if (!levels.length) return;
      ctx.beginPath();
      ctx.moveTo(x(levels[0].price_f), y(0));
      for (const l of levels) { ctx.lineTo(x(l.price_f), y(l.cum - Number(l.qty))); ctx.lineTo(x(l.price_f), y(l.cum)); }
      ctx.lineTo(x(levels[levels.length - 1].price_f), y(0));
      ctx.closePath();
      ctx.fillStyle = color + "33";
      ctx.fill();
      ctx.strokeStyle = color;
      ctx.stroke();
      for (const l of levels) { // this level's size by venue
        let base = 0;
        for (const [venue, q] of Object.entries(l.venues)) {
          const h = (Number(q) / top) * (H - 2 * pad);
          ctx.fillStyle = this.colorOf(venue);
          ctx.fillRect(x(l.price_f) - 2, y(0) - base - h, 4, h);
          base += h;
        }
      }
    };
    side(bids, "#047857");
    side(asks, "#b91c1c");
    ctx.fillStyle = "#1d2330";
    ctx.font = "11px system-ui";
    ctx.fillText(String(lo), pad, H - 12);
    ctx.fillText(String(hi), W - pad - ctx.measureText(String(hi)).width, H - 12);
    ctx.fillText(`${top.toPrecision(4)} cumulative`, 4, pad - 10);
    const venues = new Set([...book.bids, ...book.asks].flatMap((l) => Object.keys(l.venues)));
    $("depth-legend").replaceChildren(...[...venues].sort().map((v) => {
      const swatch = el("i");
      swatch.style.background = this.colorOf(v); // CSSOM, which the page's CSP allows (a style attribute it does not)
      return el("span", {}, swatch, v);
    }));
  }

  // -- orders and fills ---------------------------------------------------------------------------

  /** The latest orders over REST, merged with what the stream said meanwhile (the newer view wins). */
  async loadOrders() {
    for (const o of await this.api("/v1/orders?limit=200")) this.upsertOrder(o);
  }

  async loadFills() {
    let after = 0, page, pages = 0;
    const fills = [];
    do {
      page = await this.api(`/v1/fills?after=${after}&limit=1000`);
      fills.push(...page.fills);
      after = page.next;
    } while (page.more && ++pages < FILL_HISTORY_PAGES);
    this.fillsComplete = !page.more;
    $("fills-note").textContent = this.fillsComplete ? "" : "A long history: the fills since the page opened " +
      "(an order's own are in its detail; all of them: GET /v1/fills).";
    if (this.fillsComplete) for (const f of fills) this.addFill(f, false); // those streamed meanwhile are kept
    for (const tr of $("orders-table").tBodies[0].rows) setCell(tr.querySelector(".fill-count"), this.fillsOf(tr.dataset.order));
  }

  /** How many fills an order has, as far as this page knows. */
  fillsOf(orderId) {
    const n = this.fillCount.get(orderId) || 0;
    return this.fillsComplete ? n : n ? `≥${n}` : "–";
  }

  upsertOrder(o) {
    const known = this.orders.get(o.order_id);
    if (known && known.updated_ns > o.updated_ns) return; // a REST read older than what the stream said
    this.orders.set(o.order_id, o);
    const body = $("orders-table").tBodies[0];
    let tr = body.querySelector(`tr[data-order="${CSS.escape(o.order_id)}"]`);
    const cells = [time(o.created_ns), o.order_id, o.symbol, o.side, o.type, o.quantity, o.price, o.state, o.filled,
      o.avg_price, this.fillsOf(o.order_id)];
    if (!tr) {
      tr = el("tr", { class: "clickable", "data-order": o.order_id, "data-at": o.created_ns,
        onclick: () => this.showOrder(o.order_id) },
        cells.map((c, i) => (i >= 5 && i !== 7 ? num(c) : td(c))));
      tr.children[3].className = o.side;
      tr.children[7].className = "state";
      tr.children[8].classList.add("filled");
      tr.children[10].classList.add("fill-count");
      newestFirst(body, tr);
    } else {
      cells.forEach((c, i) => setCell(tr.children[i], c));
    }
  }

  addFill(f, live) {
    if (this.fillIds.has(f.fill_id)) return; // a resume may replay what a reload already showed
    this.fillIds.add(f.fill_id);
    if (f.order_id) {
      this.fillCount.set(f.order_id, (this.fillCount.get(f.order_id) || 0) + 1);
      const tr = $("orders-table").tBodies[0].querySelector(`tr[data-order="${CSS.escape(f.order_id)}"]`);
      if (tr) setCell(tr.querySelector(".fill-count"), this.fillsOf(f.order_id));
    }
    const body = $("fills-table").tBodies[0];
    const tr = el("tr", { "data-fill": f.fill_id, "data-order": f.order_id || "", "data-at": f.booked_ns },
      td(f.fill_id), td(f.order_id || "(algo)"), td(f.venue), td(f.side, f.side), num(f.price), num(f.quantity),
      num(f.fee), td(f.liquidity));
    if (live) tr.classList.add("flash");
    newestFirst(body, tr);
    while (body.rows.length > MAX_FILLS_SHOWN) body.deleteRow(body.rows.length - 1);
  }

  async showOrder(orderId) {
    this.selectedOrder = orderId;
    document.querySelectorAll("#orders-table tr.selected").forEach((r) => r.classList.remove("selected"));
    const row = $("orders-table").tBodies[0].querySelector(`tr[data-order="${CSS.escape(orderId)}"]`);
    if (row) row.classList.add("selected");
    const box = $("order-detail");
    let o;
    try { o = await this.api(`/v1/orders/${encodeURIComponent(orderId)}`); } catch (e) {
      box.replaceChildren(el("p", { class: "error" }, e.message));
      box.hidden = false;
      return;
    }
    if (this.selectedOrder !== orderId) return;
    const children = el("table", { id: "children-table" },
      el("thead", {}, el("tr", {}, ["child", "venue", "qty", "price", "state", "filled", "venue order", "reason"]
        .map((h) => el("th", {}, h)))),
      el("tbody", {}, o.children.map((c) => el("tr", { "data-child": c.child_id }, td(c.child_id), td(c.venue),
        num(c.quantity), num(c.price), td(c.state), num(c.filled), td(c.venue_order_id), td(c.reason)))));
    const fills = el("table", { id: "order-fills-table" },
      el("thead", {}, el("tr", {}, ["fill", "venue", "price", "qty", "fee", "liquidity", "booked"]
        .map((h) => el("th", {}, h)))),
      el("tbody", {}, o.fills.map((f) => el("tr", { "data-fill": f.fill_id }, td(f.fill_id), td(f.venue),
        num(f.price), num(f.quantity), num(`${f.fee} ${f.fee_asset}`), td(f.liquidity), td(time(f.booked_ns))))));
    const chart = el("img", { id: "tca-chart", alt: `TCA of ${orderId}` });
    box.replaceChildren(el("h3", {}, `Order ${o.order_id} · ${o.side} ${o.quantity} ${o.symbol} · ${o.state}`),
      el("h3", {}, "Children"), children, el("h3", {}, "Fills"), fills, el("h3", {}, "Transaction cost"), chart);
    box.hidden = false;
    try { // the chart needs the key: fetched, then shown from a blob (an <img> cannot send headers)
      const svg = await (await this.api(`/v1/orders/${encodeURIComponent(orderId)}/tca.svg`, { raw: true })).blob();
      if (this.chartUrl) URL.revokeObjectURL(this.chartUrl);
      this.chartUrl = URL.createObjectURL(svg);
      chart.src = this.chartUrl;
    } catch (e) {
      chart.replaceWith(el("p", { class: "error" }, `TCA chart: ${e.message}`));
    }
  }

  // -- algos --------------------------------------------------------------------------------------

  async loadAlgos() {
    try {
      for (const a of await this.api("/v1/algos")) this.algos.set(a.name, a);
    } catch (e) {
      if (e.status === 404) { $("algos-note").textContent = "This CC runs no algos."; return; }
      throw e;
    }
    this.renderAlgos();
  }

  renderAlgos() {
    const rows = [];
    for (const a of [...this.algos.values()].sort((p, q) => p.name.localeCompare(q.name))) {
      const edges = a.edges.length ? a.edges : [{ edge: "–", state: a.state }];
      edges.forEach((e, i) => {
        const lat = e.message_latency_us;
        rows.push(el("tr", { class: "clickable", "data-algo": a.name, "data-edge": e.edge,
          onclick: () => this.showLogs(a.name) },
        td(i === 0 ? `${a.name} (${a.state}${a.halted ? `, halted: ${a.halted}` : ""})` : ""), td(i === 0 ? a.symbol : ""),
        td(e.edge), td(e.reason ? `${e.state}: ${e.reason}` : e.state, e.state === "Running" ? "up" : e.state === "Failed" ? "down" : ""),
        num(e.calls), num(e.fuel_used), num(e.traps), num(e.orders), num(e.fills), num(e.denied),
        num(e.messages === undefined ? null : `${e.messages}/${e.received}/${e.rejected_messages}`), num(e.position),
        num(e.open_orders), num(lat ? `${lat.p50}/${lat.p99}` : null)));
      });
    }
    $("algos-table").tBodies[0].replaceChildren(...rows);
    if (!this.algos.size && !$("algos-note").textContent) $("algos-note").textContent = "No algos deployed.";
    else if (this.algos.size) $("algos-note").textContent = "";
  }

  async showLogs(name) {
    const box = $("algo-logs");
    let logs;
    try { logs = await this.api(`/v1/algos/${encodeURIComponent(name)}/logs`); } catch (e) {
      box.replaceChildren(el("p", { class: "error" }, e.message));
      box.hidden = false;
      return;
    }
    box.replaceChildren(el("h3", {}, `Logs of ${name}`), ...Object.entries(logs).flatMap(([edge, lines]) =>
      [el("h3", {}, edge), el("pre", {}, lines.join("\n") || "(no lines)")]));
    box.hidden = false;
  }

  // -- peer mesh ----------------------------------------------------------------------------------

  async loadMesh() {
    const [peers, edges] = await Promise.all([this.api("/v1/peers"), this.api("/v1/edges")]);
    const stale = new Map(); // venue -> stale on any symbol's board
    for (const rows of this.bbo.values()) for (const r of rows) stale.set(r.venue, (stale.get(r.venue) || false) || r.stale);
    const staleOf = (venues) => venues.filter((v) => stale.get(v));
    $("peers-table").tBodies[0].replaceChildren(...(peers.length ? peers.map((p) => {
      const s = staleOf(p.venues);
      return el("tr", { "data-peer": p.region }, td(p.region), td(p.endpoint),
        td(p.connected ? "connected" : "down", p.connected ? "up" : "down"), num(p.rtt_ms), td(p.venues.join(", ")),
        td(s.length ? s.join(", ") : "none", s.length ? "stale" : ""), num(`${p.items_in}/${p.items_out}`),
        num(p.reconnects), td(p.last_error));
    }) : [el("tr", {}, el("td", { colSpan: 9, class: "hint" }, "No peers: this region is on its own."))]));
    $("edges-table").tBodies[0].replaceChildren(...edges.map((e) => el("tr", { "data-edge": e.venue },
      td(e.venue), td(e.region), td(e.remote ? "remote" : "local"),
      td(e.connected ? "connected" : "down", e.connected ? "up" : "down"), num(e.latency_ms),
      td(stale.get(e.venue) ? "STALE" : "live", stale.get(e.venue) ? "stale" : "up"), num(e.reconnects),
      td(e.last_error))));
  }
}

window.dashboard = new Dashboard();
window.addEventListener("DOMContentLoaded", () => window.dashboard.start());
