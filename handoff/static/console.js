// The agent console: the queue, one conversation at a time, real time over /ws/agent.
// No build step. Everything a customer (or the knowledge base) wrote is put in the page with
// textContent, never as HTML; links only for http(s) URLs.
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const REASONS = {
    requested: "Asked for a person",
    low_confidence: "Low confidence",
    no_answer: "No answer found",
    bot_unavailable: "Bot unavailable",
    repeated_failure: "Repeated failure",
    frustration: "Frustration",
    sensitive_topic: "Sensitive topic",
  };

  const S = {
    me: null, // {agent_id, name, presence, capacity, supervisor}
    queue: null, // the last "queue" snapshot
    queueAt: 0, // when it arrived (waits tick on locally)
    current: null, // the open conversation's view
    seqs: new Set(), // message sequence numbers shown in the transcript
    watching: null, // the conversation the socket follows
    watchWaiter: null,
    buffer: [], // its messages that arrived while it was being read
    canned: [],
  };
  let ws = null;
  let backoff = 500;
  let typingOff = null;
  let lastTypingSent = 0;
  let customerTypingHide = null;

  // ------------------------------------------------------------------ helpers
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("data-") || key.startsWith("aria-")) node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  }

  function safeLink(url, text) {
    if (typeof url === "string" && /^https?:\/\//i.test(url)) {
      return el("a", { href: url, text, target: "_blank", rel: "noopener noreferrer" });
    }
    return el("span", { text });
  }

  function duration(seconds) {
    const s = Math.max(0, Math.round(seconds));
    const m = Math.floor(s / 60);
    return m ? `${m} min ${s % 60} s` : `${s} s`;
  }

  const reasonText = (reason) => REASONS[reason] || reason || "—";

  function announce(text) {
    $("announcer").textContent = text;
  }

  function showError(text) {
    const box = $("error");
    box.textContent = text;
    box.hidden = !text;
  }

  async function api(method, path, body) {
    const response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "Content-Type": "application/json",
        "X-CSRF-Token": csrf,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {
      location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
      throw new Error("Signed out");
    }
    if (!response.ok) {
      let detail = response.statusText;
      try {
        const data = await response.json();
        detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
      } catch {}
      throw new Error(detail);
    }
    return response.status === 204 ? null : response.json();
  }

  async function act(fn) {
    try {
      showError("");
      return await fn();
    } catch (error) {
      showError(error.message);
      return null;
    }
  }

  // ------------------------------------------------------------------ the queue
  function waited(item) {
    return item.waited_s + (Date.now() - S.queueAt) / 1000;
  }

  function renderQueue() {
    const q = S.queue;
    if (!q) return;
    $("queue-count").textContent = String(q.items.length);
    $("sla-target").textContent = duration(q.sla_wait_s);
    $("queue-empty").hidden = q.items.length > 0;
    $("queue").replaceChildren(...q.items.map(queueRow));
    const alert = $("alert");
    alert.hidden = !q.alert;
    alert.textContent = q.alert
      ? `The queue is long: ${q.items.length} waiting (alert above ${q.alert_length}).`
      : "";
    $("mine-empty").hidden = q.mine.length > 0;
    $("mine").replaceChildren(...q.mine.map(mineRow));
    $("team").replaceChildren(...q.agents.map(teamRow));
    renderTransferTargets();
    tickWaits();
  }

  function queueRow(item) {
    const wait = el("span", { class: "wait", "data-wait": "" });
    const open = el(
      "button",
      { type: "button", class: "link-button", onclick: () => openConversation(item.conversation_id) },
      el("span", { class: "preview", text: item.goal || "(no question yet)" }),
    );
    const claim = el("button", {
      type: "button",
      class: "button-quiet",
      text: "Claim",
      "aria-label": `Claim: ${item.goal || item.conversation_id}`,
      onclick: () => claimConversation(item.conversation_id),
    });
    const row = el(
      "li",
      { class: "queue-item", "data-conversation": item.conversation_id },
      open,
      el(
        "div",
        { class: "meta" },
        el("span", { class: `badge reason-${item.reason}`, text: reasonText(item.reason) }),
        channelBadge(item.channel),
        wait,
        item.offline ? el("span", { class: "badge", text: "offline ticket" }) : null,
        item.contact_email ? el("span", { class: "muted", text: item.contact_email }) : null,
      ),
      claim,
    );
    row._item = item;
    return row;
  }

  function tickWaits() {
    if (!S.queue) return;
    for (const row of $("queue").children) {
      const item = row._item;
      const seconds = waited(item);
      const late = item.sla_breached || seconds > S.queue.sla_wait_s;
      row.classList.toggle("sla-breached", late);
      const wait = row.querySelector("[data-wait]");
      wait.textContent = `waiting ${duration(seconds)}${late ? " · past target" : ""}`;
    }
  }

  // Only email is marked: the widget is the usual channel.
  function channelBadge(channel) {
    return channel === "email" ? el("span", { class: "badge channel-email", text: "email" }) : null;
  }

  function mineRow(item) {
    const button = el(
      "button",
      { type: "button", class: "link-button", onclick: () => openConversation(item.conversation_id) },
      el("span", { class: "preview", text: item.goal || item.conversation_id }),
    );
    return el(
      "li",
      { "data-conversation": item.conversation_id },
      button,
      channelBadge(item.channel),
      el("span", { class: "unread", hidden: true, text: "new" }),
    );
  }

  function teamRow(agent) {
    return el(
      "li",
      {},
      el("span", { class: `dot ${agent.presence}`, "aria-hidden": "true" }),
      el("span", { text: `${agent.name} · ${agent.presence} · ${agent.load}/${agent.capacity}` }),
    );
  }

  function renderTransferTargets() {
    const select = $("transfer-to");
    const others = (S.queue?.agents || []).filter(
      (a) => a.agent_id !== S.me?.agent_id && a.presence !== "offline",
    );
    const options = [el("option", { value: "", text: "Back to the queue" })];
    for (const a of others) options.push(el("option", { value: a.agent_id, text: a.name }));
    const previous = select.value;
    select.replaceChildren(...options);
    select.value = others.some((a) => a.agent_id === previous) ? previous : "";
  }

  // ------------------------------------------------------------------ a conversation
  async function openConversation(id) {
    // Follow the conversation first, then read it: nothing sent in between is missed (the
    // transcript drops what it already shows by sequence number).
    S.buffer = [];
    await startWatching(id);
    const view = await act(() => api("GET", `/api/agent/conversations/${encodeURIComponent(id)}`));
    if (!view) return;
    S.current = view;
    S.seqs = new Set();
    $("placeholder").hidden = true;
    $("conversation").hidden = false;
    renderPacket(view.packet);
    $("transcript").replaceChildren();
    for (const message of [...view.transcript, ...S.buffer]) addMessage(message);
    S.buffer = [];
    $("notes").replaceChildren(...view.notes.map(noteRow));
    renderState();
    markRead(id);
  }

  function reload() {
    if (S.current) openConversation(S.current.conversation_id);
  }

  function startWatching(id) {
    S.watching = id;
    if (ws?.readyState !== WebSocket.OPEN) return Promise.resolve();
    return new Promise((resolve) => {
      S.watchWaiter = { id, resolve };
      ws.send(JSON.stringify({ type: "watch", conversation_id: id }));
      setTimeout(resolve, 2000);
    });
  }

  const mine = () => S.current?.state === "agent" && S.current.agent_id === S.me?.agent_id;

  function renderState() {
    const view = S.current;
    const state = view.state;
    const owner = state === "agent" ? ` · ${view.agent_name || view.agent_id}` : "";
    const badge = $("conversation-state");
    badge.textContent = state + owner;
    badge.dataset.state = state;
    $("claim").hidden = state !== "queued";
    for (const id of ["transfer", "transfer-to", "return", "resolve"]) $(id).hidden = !mine();
    for (const id of ["reply", "send", "canned"]) $(id).disabled = !mine();
  }

  function renderPacket(packet) {
    $("packet").hidden = !packet;
    if (!packet) return;
    $("p-goal").textContent = packet.goal || "(unknown)";
    $("p-reason").textContent =
      reasonText(packet.reason) + (packet.detail ? ` — ${packet.detail}` : "");
    $("p-confidence").textContent =
      packet.confidence == null ? "n/a" : Number(packet.confidence).toFixed(2);
    $("p-waited").textContent = duration(packet.waited_s || 0);
    $("p-contact").textContent = packet.contact || "none given";
    $("p-channel").textContent = S.current?.channel || "widget";
    const attempts = packet.attempts || [];
    $("p-no-attempts").hidden = attempts.length > 0;
    $("p-attempts").replaceChildren(
      ...attempts.map((a) =>
        el(
          "li",
          {},
          el("p", { class: "q", text: `Q: ${a.question || ""}` }),
          el("p", { class: "a", text: `A: ${a.answer || ""}` }),
          el("p", {
            class: "muted small",
            text: `confidence ${a.confidence == null ? "n/a" : Number(a.confidence).toFixed(2)}`,
          }),
          sources(a.sources || []),
        ),
      ),
    );
  }

  function sources(list) {
    if (!list.length) return null;
    return el(
      "ul",
      { class: "sources" },
      ...list.map((s) => el("li", {}, safeLink(s.url, s.title || s.doc_id || "source"))),
    );
  }

  function who(message) {
    switch (message.role) {
      case "customer":
        return "Customer";
      case "bot":
        return "Bot";
      case "agent":
        return message.author || "Agent";
      default:
        return "System";
    }
  }

  function addMessage(message) {
    if (message.seq == null || S.seqs.has(message.seq)) return;
    S.seqs.add(message.seq);
    const meta = [];
    if (message.role === "bot" && message.confidence != null) {
      meta.push(el("span", { class: "muted small", text: `confidence ${message.confidence.toFixed(2)}` }));
    }
    const node = el(
      "li",
      { class: `msg ${message.role}`, "data-seq": String(message.seq) },
      el("span", { class: "who", text: who(message) }),
      el("p", { class: "text", text: message.text }),
      ...meta,
      message.role === "bot" ? sources(message.citations || []) : null,
    );
    const list = $("transcript");
    const later = [...list.children].find((li) => Number(li.dataset.seq) > message.seq);
    list.insertBefore(node, later || null);
    if (!later) node.scrollIntoView({ block: "nearest" });
    if (message.role === "customer") hideCustomerTyping();
  }

  function noteRow(note) {
    const by = note.agent || note.agent_name || "";
    return el("li", { class: "note" }, el("span", { class: "who", text: by }), el("span", { text: note.text }));
  }

  function markRead(id) {
    const row = $("mine").querySelector(`[data-conversation="${CSS.escape(id)}"] .unread`);
    if (row) row.hidden = true;
  }

  function markUnread(id) {
    if (S.current?.conversation_id === id) return;
    const row = $("mine").querySelector(`[data-conversation="${CSS.escape(id)}"] .unread`);
    if (row) {
      row.hidden = false;
      announce("New customer message.");
    }
  }

  function showCustomerTyping() {
    $("customer-typing").hidden = false;
    clearTimeout(customerTypingHide);
    customerTypingHide = setTimeout(hideCustomerTyping, 4000);
  }

  function hideCustomerTyping() {
    $("customer-typing").hidden = true;
    clearTimeout(customerTypingHide);
  }

  // ------------------------------------------------------------------ actions
  const path = (suffix) =>
    `/api/agent/conversations/${encodeURIComponent(S.current.conversation_id)}/${suffix}`;

  async function claimConversation(id) {
    const done = await act(() =>
      api("POST", `/api/agent/conversations/${encodeURIComponent(id)}/claim`),
    );
    if (done) await openConversation(id);
  }

  $("claim-next").addEventListener("click", async () => {
    const done = await act(() => api("POST", "/api/agent/claim-next"));
    if (done) await openConversation(done.conversation_id);
  });
  $("claim").addEventListener("click", () => claimConversation(S.current.conversation_id));
  $("return").addEventListener("click", async () => {
    if (await act(() => api("POST", path("return")))) reload();
  });
  $("resolve").addEventListener("click", async () => {
    if (await act(() => api("POST", path("resolve")))) reload();
  });
  $("transfer").addEventListener("click", async () => {
    const to = $("transfer-to").value || null;
    if (await act(() => api("POST", path("transfer"), { to_agent_id: to }))) reload();
  });

  $("reply-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const box = $("reply");
    const text = box.value.trim();
    if (!text || !mine()) return;
    const message = await act(() => api("POST", path("messages"), { text }));
    if (message) {
      box.value = "";
      addMessage(message);
      sendTyping(false);
    }
    box.focus();
  });

  $("reply").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("reply-form").requestSubmit();
    }
  });

  $("reply").addEventListener("input", () => {
    if (!mine()) return;
    if (Date.now() - lastTypingSent > 2000) sendTyping(true);
    clearTimeout(typingOff);
    typingOff = setTimeout(() => sendTyping(false), 3000);
  });

  function sendTyping(on) {
    if (!S.current || ws?.readyState !== WebSocket.OPEN) return;
    lastTypingSent = on ? Date.now() : 0;
    if (!on) clearTimeout(typingOff);
    ws.send(JSON.stringify({ type: "typing", conversation_id: S.current.conversation_id, on }));
  }

  $("canned").addEventListener("change", () => {
    const chosen = S.canned.find((c) => String(c.id) === $("canned").value);
    if (chosen) {
      $("reply").value = chosen.text;
      $("reply").focus();
    }
    $("canned").value = "";
  });

  $("note-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("note").value.trim();
    if (!text || !S.current) return;
    if (await act(() => api("POST", path("notes"), { text }))) $("note").value = "";
  });

  async function savePresence() {
    const capacity = $("capacity").value === "" ? null : Number($("capacity").value);
    const status = await act(() =>
      api("PUT", "/api/agent/presence", { presence: $("presence").value, capacity }),
    );
    if (status) announce(`You are ${status.presence}.`);
  }
  $("presence").addEventListener("change", savePresence);
  $("capacity").addEventListener("change", savePresence);

  // ------------------------------------------------------------------ canned responses
  async function loadCanned() {
    S.canned = (await act(() => api("GET", "/api/agent/canned"))) || [];
    $("canned").replaceChildren(
      el("option", { value: "", text: "—" }),
      ...S.canned.map((c) => el("option", { value: String(c.id), text: `${c.shortcut} · ${c.title}` })),
    );
    $("canned-list").replaceChildren(
      ...S.canned.map((c) =>
        el(
          "li",
          {},
          el("span", { text: `${c.shortcut} · ${c.title}` }),
          el("button", {
            type: "button",
            class: "button-quiet",
            text: "Delete",
            "aria-label": `Delete ${c.shortcut}`,
            onclick: async () => {
              await act(() => api("DELETE", `/api/agent/canned/${c.id}`));
              loadCanned();
            },
          }),
        ),
      ),
    );
  }

  $("canned-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      shortcut: $("canned-shortcut").value.trim(),
      title: $("canned-title").value.trim(),
      text: $("canned-text").value.trim(),
    };
    if (await act(() => api("POST", "/api/agent/canned", body))) {
      event.target.reset();
      loadCanned();
    }
  });

  // ------------------------------------------------------------------ real time
  function onEvent(event) {
    const here = S.current?.conversation_id;
    switch (event.type) {
      case "hello":
        S.me = event;
        $("presence").value = event.presence;
        $("capacity").value = String(event.capacity);
        $("canned-admin").hidden = !event.supervisor;
        return;
      case "queue":
        S.queue = event;
        S.queueAt = Date.now();
        return renderQueue();
      case "watching":
        if (S.watchWaiter?.id === event.conversation_id) S.watchWaiter.resolve();
        return;
      case "message":
        if (event.conversation_id === here) addMessage(event.message);
        else if (event.conversation_id === S.watching) S.buffer.push(event.message);
        else if (event.message?.role === "customer") markUnread(event.conversation_id);
        return;
      case "typing":
        if (event.conversation_id === here) event.on ? showCustomerTyping() : hideCustomerTyping();
        return;
      case "note":
        if (event.conversation_id === here) $("notes").append(noteRow(event.note));
        return;
      case "queued":
        return announce(`New conversation in the queue: ${reasonText(event.reason)}.`);
      case "sla_breach":
        return announce("A customer has waited past the target time.");
      case "alert":
        return announce(`Supervisor alert: ${event.length} customers are waiting.`);
      case "state":
      case "claimed":
      case "released":
      case "transferred":
      case "cancelled":
        if (event.conversation_id === here) reload();
        return;
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    ws = new WebSocket(`${scheme}://${location.host}/ws/agent`);
    ws.addEventListener("open", () => {
      backoff = 500;
      $("connection").textContent = "Connected.";
      reload(); // catch up on what happened while the socket was down
    });
    ws.addEventListener("message", (message) => {
      try {
        onEvent(JSON.parse(message.data));
      } catch (error) {
        console.error(error);
      }
    });
    ws.addEventListener("close", (event) => {
      ws = null;
      if (event.code === 4401) return location.assign("/login?next=/agent");
      if (event.code === 4403) {
        $("connection").textContent = "Your account cannot use the agent console.";
        return;
      }
      $("connection").textContent = "Reconnecting…";
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 15000);
    });
  }

  setInterval(tickWaits, 1000);
  connect();
  loadCanned();
})();
