/* allhours customer widget: one <script> tag, no build step, no external assets.
 *
 *   <script src="https://HOST/widget.js" data-title="Support" data-color="#0b6e4f"
 *           data-greeting="Hi!" data-lang="en" async></script>
 *
 * Everything renders inside a shadow root, so the host page's CSS cannot reach in and ours
 * cannot leak out. Message text only ever reaches the DOM through textContent: the Markdown
 * subset below builds nodes itself, so markup typed by anyone is shown as text.
 * Protocol: docs/internals.md, "The widget protocol".
 */
(() => {
  "use strict";

  const script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  if (!script || window.__allhoursWidget) return;
  window.__allhoursWidget = true;

  const ORIGIN = new URL(script.src, location.href).origin;
  const STORE_KEY = `allhours:${ORIGIN}`;
  const HISTORY_LIMIT = 200;
  const MAX_CHARS = 2000;
  const RETRY_BASE_MS = 500;
  const RETRY_MAX_MS = 30000;
  const TYPING_EVERY_MS = 3000;
  const SAFE_URL = /^https?:\/\//i;

  // ---------------------------------------------------------------- strings
  const STRINGS = {
    en: {
      title: "Support",
      greeting: "Hi! Ask me anything about our products, your account or an order.",
      open: "Open chat",
      close: "Close chat",
      newCount: "{n} new",
      dialog: "Chat with {title}",
      messages: "Messages",
      handoff: "Talk to a person",
      endChat: "End chat",
      input: "Type your message",
      placeholder: "Type your message…",
      send: "Send",
      you: "You",
      bot: "Assistant",
      agent: "Support agent",
      typingBot: "The assistant is typing…",
      typingAgent: "{who} is typing…",
      sources: "Sources",
      source: "Source {n}: {title}",
      helpful: "Helpful",
      notHelpful: "Not helpful",
      rateTitle: "How was this chat?",
      rateN: "{n} out of 5",
      rated: "Thanks! You rated this chat {n} out of 5.",
      newChat: "Start a new chat",
      queued: "You're in line for a person: number {position}, about {wait} to wait.",
      queuedShort: "You're in line for a person. We'll be with you shortly.",
      stayBot: "Keep chatting with the assistant",
      minutes: "{n} min",
      underMinute: "under a minute",
      agentJoined: "{agent} joined the chat.",
      agentJoinedAnon: "A support agent joined the chat.",
      backToBot: "You're chatting with the assistant again.",
      resolved: "This chat has been closed.",
      offline: "Leave your email address and we'll write back:",
      emailSend: "Send email",
      emailInvalid: "Please enter a valid email address.",
      emailMe: "Email me",
      emailMeLabel: "Email me this conversation",
      emailMeTo: "Email this conversation to:",
      emailMeSend: "Email it",
      emailMeSent: "We've emailed this conversation to {email}.",
      emailMeOff: "Email isn't available here.",
      online: "Typically replies instantly",
      connecting: "Connecting…",
      reconnecting: "Connection lost. Reconnecting…",
      sending: "Sending…",
      notSent: "Not sent",
      err_too_long: "That message is too long. Please shorten it and try again.",
      err_rate_limited: "You're sending messages quickly. Please wait a moment.",
      err_bad_token: "Your chat session expired, so we started a new one.",
      err_empty: "Please type a message first.",
      err_generic: "Sorry, something went wrong. Please try again.",
      err_start: "We couldn't reach the chat service. We'll keep trying.",
    },
    zh: {
      title: "客服",
      greeting: "您好！关于我们的产品、账户或订单，有什么可以帮您？",
      open: "打开聊天",
      close: "关闭聊天",
      newCount: "{n} 条新消息",
      dialog: "与{title}聊天",
      messages: "消息",
      handoff: "转人工客服",
      endChat: "结束聊天",
      input: "输入消息",
      placeholder: "输入消息…",
      send: "发送",
      you: "您",
      bot: "智能助手",
      agent: "客服人员",
      typingBot: "助手正在输入…",
      typingAgent: "{who}正在输入…",
      sources: "来源",
      source: "来源 {n}：{title}",
      helpful: "有帮助",
      notHelpful: "没有帮助",
      rateTitle: "您对本次聊天满意吗？",
      rateN: "{n} 分（满分 5 分）",
      rated: "感谢评分！您给本次聊天打了 {n} 分。",
      newChat: "开始新的聊天",
      queued: "正在为您转接人工客服：您排在第 {position} 位，预计等待 {wait}。",
      queuedShort: "正在为您转接人工客服，请稍候。",
      stayBot: "继续与助手聊天",
      minutes: "{n} 分钟",
      underMinute: "不到一分钟",
      agentJoined: "{agent} 已加入聊天。",
      agentJoinedAnon: "客服人员已加入聊天。",
      backToBot: "您已回到智能助手。",
      resolved: "本次聊天已结束。",
      offline: "请留下您的邮箱地址，我们会尽快回复：",
      emailSend: "提交邮箱",
      emailInvalid: "请输入有效的邮箱地址。",
      emailMe: "发邮件给我",
      emailMeLabel: "把本次聊天记录发到我的邮箱",
      emailMeTo: "把聊天记录发送到：",
      emailMeSend: "发送",
      emailMeSent: "聊天记录已发送到 {email}。",
      emailMeOff: "此处暂不支持邮件。",
      online: "通常即时回复",
      connecting: "正在连接…",
      reconnecting: "连接已断开，正在重新连接…",
      sending: "发送中…",
      notSent: "未发送",
      err_too_long: "消息太长，请缩短后重试。",
      err_rate_limited: "您发送得太快了，请稍等片刻。",
      err_bad_token: "聊天会话已过期，已为您开始新的聊天。",
      err_empty: "请先输入消息。",
      err_generic: "抱歉，出了点问题，请重试。",
      err_start: "暂时无法连接聊天服务，我们会继续尝试。",
    },
  };
  const requestedLang = (script.dataset.lang || navigator.language || "en").toLowerCase();
  const LANG = requestedLang.startsWith("zh") ? "zh" : "en";
  const t = (key, vars = {}) =>
    (STRINGS[LANG][key] ?? STRINGS.en[key] ?? key).replace(/\{(\w+)\}/g, (_, k) =>
      String(vars[k] ?? ""),
    );

  const TITLE = script.dataset.title || t("title");
  const GREETING = script.dataset.greeting || t("greeting");

  // ---------------------------------------------------------------- colours
  // Text on the brand colour is chosen by luminance so it always reaches WCAG AA (4.5:1).
  const DEFAULT_COLOR = "#0b6e4f";
  const parseHex = (value) => {
    const m = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec((value || "").trim());
    if (!m) return null;
    const hex = m[1].length === 3 ? [...m[1]].map((c) => c + c).join("") : m[1];
    return [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
  };
  const luminance = (rgb) => {
    const [r, g, b] = rgb.map((v) => {
      const c = v / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const contrast = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const toCss = (rgb) => `rgb(${rgb.map(Math.round).join(" ")})`;
  const WHITE = [255, 255, 255];
  const INK = [17, 24, 39];

  function palette(color) {
    const brand = parseHex(color) || parseHex(DEFAULT_COLOR);
    const onBrand = contrast(brand, WHITE) >= contrast(brand, INK) ? WHITE : INK;
    // Links and focus rings sit on white: darken the brand until it reads as text there.
    let accent = brand;
    for (let i = 0; i < 20 && contrast(accent, WHITE) < 4.5; i++) {
      accent = accent.map((v) => v * 0.85);
    }
    // Hover and pressed states move away from the text colour, so contrast only grows.
    const strong = brand.map((v, i) => v + (onBrand[i] > 128 ? -v : 255 - v) * 0.18);
    return {
      brand: toCss(brand),
      brandStrong: toCss(strong),
      onBrand: toCss(onBrand),
      accent: toCss(accent),
    };
  }

  // ---------------------------------------------------------------- DOM helpers
  function h(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === false || value == null) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  }

  const ICONS = {
    chat: "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z",
    close: "M6 6l12 12M18 6L6 18",
    send: "M4 12l16-8-6 16-2.5-6.5L4 12z",
    person: "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4 21a8 8 0 0 1 16 0",
    up: "M7 11v9H4v-9h3zm0 0l4-7a2 2 0 0 1 3 2l-1 4h6a2 2 0 0 1 2 2.3l-1.2 6A2 2 0 0 1 17.8 20H7",
    down: "M17 13V4h3v9h-3zm0 0l-4 7a2 2 0 0 1-3-2l1-4H5a2 2 0 0 1-2-2.3l1.2-6A2 2 0 0 1 6.2 4H17",
    star: "M12 3l2.8 5.7 6.2.9-4.5 4.4 1 6.2L12 17.3 6.5 20.2l1-6.2L3 9.6l6.2-.9L12 3z",
  };
  function icon(name) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.classList.add("icon", `icon-${name}`);
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", ICONS[name]);
    svg.append(path);
    return svg;
  }

  // ---------------------------------------------------------------- safe Markdown subset
  // One alternative per construct; which capture group is set says which one matched.
  const INLINE = new RegExp(
    [
      /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/.source, // `code`: m[2]
      /\*\*(?=\S)([\s\S]*?\S)\*\*/.source, // **bold**: m[3]
      /\*(?=[^\s*])([\s\S]*?[^\s*])\*/.source, // *italic*: m[4]
      /\[([^\]\n]+)\]\(([^()\s]+)\)/.source, // [text](url): m[5], m[6]
      /\[(\d{1,3})\]/.source, // [n], a citation marker: m[7]
    ].join("|"),
    "g",
  );

  function safeUrl(raw) {
    if (!raw || !SAFE_URL.test(raw)) return null;
    try {
      const url = new URL(raw);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch {
      return null;
    }
  }

  function externalLink(href, text, cls) {
    return h("a", { href, target: "_blank", rel: "noopener noreferrer", class: cls, text });
  }

  function renderInline(text, citations, into, allowLinks = true) {
    let last = 0;
    for (const m of text.matchAll(INLINE)) {
      if (m.index > last) into.append(text.slice(last, m.index));
      last = m.index + m[0].length;
      if (m[2] !== undefined) into.append(h("code", { text: m[2] }));
      else if (m[3] !== undefined)
        renderInline(m[3], citations, into.appendChild(h("strong")), allowLinks);
      else if (m[4] !== undefined)
        renderInline(m[4], citations, into.appendChild(h("em")), allowLinks);
      else if (m[5] !== undefined) {
        const href = allowLinks && safeUrl(m[6]);
        if (href) {
          const a = into.appendChild(externalLink(href, null));
          renderInline(m[5], citations, a, false);
        } else into.append(m[0]);
      } else {
        const cite = citations.get(Number(m[7]));
        const href = allowLinks && cite && safeUrl(cite.url);
        if (href) {
          const a = into.appendChild(externalLink(href, m[0], "cite"));
          a.setAttribute("aria-label", t("source", { n: cite.n, title: cite.title || cite.url }));
          a.title = cite.title || cite.url;
        } else into.append(m[0]);
      }
    }
    if (last < text.length) into.append(text.slice(last));
  }

  function renderMarkdown(text, citationList = []) {
    const citations = new Map(citationList.map((c) => [Number(c.n), c]));
    const out = document.createDocumentFragment();
    const lines = String(text ?? "")
      .replace(/\r\n?/g, "\n")
      .split("\n");
    let block = null; // the open <p>, <ul> or <ol>
    let item = null; // the open <li>
    const close = () => {
      block = item = null;
    };
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (/^\s*```/.test(line)) {
        close();
        const body = [];
        while (++i < lines.length && !/^\s*```/.test(lines[i])) body.push(lines[i]);
        out.append(h("pre", {}, h("code", { text: body.join("\n") })));
        continue;
      }
      if (!line.trim()) {
        close();
        continue;
      }
      const bullet = /^\s*[-*+]\s+(.*)$/.exec(line);
      const numbered = /^\s*(\d{1,9})[.)]\s+(.*)$/.exec(line);
      const heading = /^#{1,6}\s+(.*)$/.exec(line);
      if (bullet || numbered) {
        const tag = bullet ? "ul" : "ol";
        if (!block || block.tagName.toLowerCase() !== tag) {
          block = out.appendChild(h(tag));
          if (numbered && numbered[1] !== "1") block.setAttribute("start", numbered[1]);
        }
        item = block.appendChild(h("li"));
        renderInline(bullet ? bullet[1] : numbered[2], citations, item);
      } else if (heading) {
        close();
        renderInline(heading[1], citations, out.appendChild(h("p")).appendChild(h("strong")));
      } else if (item) {
        item.append(h("br"));
        renderInline(line.trim(), citations, item);
      } else {
        if (block) block.append(h("br"));
        else block = out.appendChild(h("p"));
        renderInline(line, citations, block);
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- persisted state
  const fresh = () => ({
    conversationId: null,
    token: null,
    startedAt: 0, // when this browser created the conversation: with two tabs, the newest wins
    lastSeq: 0,
    // kind "msg": {seq, role, text, citations, author, client_id, feedback}; "note": {seq?, text}
    history: [],
    outbox: [], // {client_id, text}: typed but not yet acknowledged
    state: "bot",
    queue: null, // {position, eta_s} while queued
    offline: false,
    contact: null,
    rated: null,
    open: false,
  });
  let S = fresh();
  try {
    S = { ...S, ...JSON.parse(localStorage.getItem(STORE_KEY) || "{}") };
  } catch {
    /* unreadable storage: start over */
  }
  function save() {
    S.history = S.history.slice(-HISTORY_LIMIT);
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify(S));
    } catch {
      /* private mode or full: the chat still works, it just won't survive a reload */
    }
  }
  const newClientId = () =>
    crypto.randomUUID
      ? crypto.randomUUID()
      : ([1e7] + -1e3 + -4e3 + -8e3 + -1e11).replace(/[018]/g, (c) =>
          (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16),
        );

  // ---------------------------------------------------------------- UI
  const colors = palette(script.dataset.color);
  const host = document.createElement("allhours-widget");
  const shadow = host.attachShadow({ mode: "open" });
  const root = h("div", { class: "root", hidden: true, lang: LANG });
  root.style.setProperty("--brand", colors.brand);
  root.style.setProperty("--brand-strong", colors.brandStrong);
  root.style.setProperty("--on-brand", colors.onBrand);
  root.style.setProperty("--accent", colors.accent);
  const css = h("link", { rel: "stylesheet", href: `${ORIGIN}/widget.css` });
  // Reveal only once styled, so the host never sees a flash of unstyled widget.
  const reveal = () => (root.hidden = false);
  css.addEventListener("load", reveal);
  css.addEventListener("error", reveal);
  shadow.append(css, root);

  const badge = h("span", { class: "badge", hidden: true, "aria-hidden": "true" });
  const launcher = h(
    "button",
    {
      class: "launcher",
      type: "button",
      "aria-label": t("open"),
      "aria-expanded": "false",
      "aria-controls": "panel",
    },
    icon("chat"),
    icon("close"),
    badge,
  );
  const status = h("span", { class: "status", text: t("online") });
  const closeBtn = h(
    "button",
    { class: "icon-btn", type: "button", "aria-label": t("close") },
    icon("close"),
  );
  const handoffBtn = h(
    "button",
    { class: "tool", type: "button" },
    icon("person"),
    h("span", { text: t("handoff") }),
  );
  const endBtn = h("button", { class: "tool", type: "button", text: t("endChat") });
  const emailMeBtn = h("button", {
    class: "tool",
    type: "button",
    text: t("emailMe"),
    "aria-label": t("emailMeLabel"),
    "aria-expanded": "false",
    hidden: true,
  });
  let emailing = false; // the "email me this conversation" form is open
  let emailOff = false; // the server has no email set up
  const log = h("div", {
    class: "log",
    role: "log",
    "aria-live": "polite",
    "aria-relevant": "additions",
    "aria-label": t("messages"),
    tabindex: "0",
  });
  const typing = h(
    "div",
    { class: "typing", role: "status", hidden: true },
    h("span", { class: "dots", "aria-hidden": "true" }, h("i"), h("i"), h("i")),
    h("span", { class: "typing-text" }),
  );
  const banner = h("div", { class: "banner", role: "status", hidden: true });
  const alert = h("div", { class: "alert", role: "alert", hidden: true });
  const input = h("textarea", {
    id: "input",
    rows: "1",
    maxlength: String(MAX_CHARS),
    placeholder: t("placeholder"),
    autocomplete: "off",
  });
  const sendBtn = h(
    "button",
    { class: "send", type: "submit", "aria-label": t("send") },
    icon("send"),
  );
  const composer = h(
    "form",
    { class: "composer" },
    h("label", { class: "sr-only", for: "input", text: t("input") }),
    input,
    sendBtn,
  );
  const panel = h(
    "section",
    {
      class: "panel",
      id: "panel",
      role: "dialog",
      "aria-label": t("dialog", { title: TITLE }),
      hidden: true,
    },
    h(
      "header",
      { class: "head" },
      h(
        "div",
        { class: "head-row" },
        h("span", { class: "avatar", "aria-hidden": "true" }, icon("chat")),
        h("div", { class: "head-text" }, h("div", { class: "title", text: TITLE }), status),
        closeBtn,
      ),
      h("div", { class: "tools" }, handoffBtn, endBtn, emailMeBtn),
    ),
    log,
    typing,
    banner,
    alert,
    composer,
  );
  root.append(panel, launcher);

  // ---------------------------------------------------------------- rendering messages
  const bubbles = new Map(); // seq or "c:"+client_id -> element
  const streams = new Map(); // stream_id -> {node, text} of an answer still being generated
  let unread = 0;

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }
  function append(node, { force = false } = {}) {
    const stick = force || nearBottom();
    log.append(node);
    if (stick) log.scrollTop = log.scrollHeight;
  }

  function noteNode(text, seq = null) {
    return h("p", { class: "note", text, "data-seq": seq });
  }

  function sourcesNode(citations) {
    const usable = citations.filter((c) => c && (c.title || c.url));
    if (!usable.length) return null;
    const list = h("ol", { class: "sources", "aria-label": t("sources") });
    for (const c of usable) {
      const href = safeUrl(c.url);
      const label = c.title || c.url;
      list.append(
        h(
          "li",
          { value: String(c.n) },
          href ? externalLink(href, label) : h("span", { text: label }),
        ),
      );
    }
    return h(
      "div",
      { class: "source-box" },
      h("div", { class: "source-head", text: t("sources") }),
      list,
    );
  }

  function feedbackNode(item) {
    const row = h("div", { class: "feedback" });
    for (const [value, label] of [
      ["up", t("helpful")],
      ["down", t("notHelpful")],
    ]) {
      const btn = h(
        "button",
        {
          type: "button",
          class: "thumb",
          "aria-label": label,
          title: label,
          "aria-pressed": String(item.feedback === value),
        },
        icon(value),
      );
      btn.addEventListener("click", () => {
        item.feedback = value;
        save();
        for (const b of row.children) b.setAttribute("aria-pressed", String(b === btn));
        sendControl({ type: "feedback", seq: item.seq, value });
      });
      row.append(btn);
    }
    return row;
  }

  function messageNode(item) {
    const role = item.role === "customer" ? "customer" : item.role === "agent" ? "agent" : "bot";
    const wrap = h("div", { class: `msg ${role}`, "data-seq": item.seq ?? null });
    if (role !== "customer") {
      const who = role === "agent" ? item.author || t("agent") : t("bot");
      wrap.append(h("div", { class: "who", text: who }));
    } else wrap.append(h("span", { class: "sr-only", text: `${t("you")}: ` }));
    const bubble = h("div", { class: "bubble" });
    if (role === "customer") bubble.append(h("p", { text: item.text }));
    else bubble.append(renderMarkdown(item.text, item.citations || []));
    wrap.append(bubble);
    if (role !== "customer") {
      const sources = sourcesNode(item.citations || []);
      if (sources) wrap.append(sources);
    }
    if (role === "bot" && item.seq != null && !item.streaming) wrap.append(feedbackNode(item));
    if (item.pending) {
      wrap.classList.add("pending");
      wrap.append(h("div", { class: "meta", text: t(item.pending) }));
    }
    return wrap;
  }

  function renderItem(item) {
    if (item.kind === "note") return noteNode(item.text, item.seq);
    const node = messageNode(item);
    if (item.seq != null) bubbles.set(item.seq, node);
    if (item.client_id) bubbles.set(`c:${item.client_id}`, node);
    return node;
  }

  // A message from the outbox: typed here, not yet acknowledged by the server.
  function pendingNode(item) {
    const { text, client_id } = item;
    return renderItem({ role: "customer", text, client_id, pending: "sending" });
  }

  function renderAll() {
    bubbles.clear();
    log.replaceChildren(messageNode({ role: "bot", text: GREETING }));
    for (const item of S.history) log.append(renderItem(item));
    for (const item of S.outbox) log.append(pendingNode(item));
    if (S.rated != null || S.state === "resolved") log.append(ratingNode());
    renderBanner();
    log.scrollTop = log.scrollHeight;
  }

  // Stored messages stand in sequence order, above messages still waiting to be sent, so the
  // live view matches what a reload (or the server) shows.
  function placeStored(item, oldNode) {
    const node = renderItem(item);
    oldNode?.remove();
    const stick = nearBottom();
    const next = [...log.children].find(
      (el) => el.classList.contains("pending") || Number(el.dataset.seq) > item.seq,
    );
    log.insertBefore(node, next || null);
    if (stick) log.scrollTop = log.scrollHeight;
    return node;
  }

  function remember(item) {
    const index = S.history.findIndex((i) => i.seq > item.seq);
    if (index < 0) S.history.push(item);
    else S.history.splice(index, 0, item);
  }

  function bump() {
    if (S.open) return;
    unread += 1;
    badge.textContent = String(unread);
    badge.hidden = false;
    launcher.setAttribute("aria-label", `${t("open")} (${t("newCount", { n: unread })})`);
  }

  // ---------------------------------------------------------------- status, banner, alerts
  function setStatus(key) {
    status.textContent = t(key);
    status.dataset.state = key;
  }

  let alertTimer = null;
  function showAlert(text) {
    alert.textContent = text;
    alert.hidden = false;
    clearTimeout(alertTimer);
    alertTimer = setTimeout(() => (alert.hidden = true), 8000);
  }

  function formatWait(seconds) {
    if (seconds == null) return null;
    return seconds < 60 ? t("underMinute") : t("minutes", { n: Math.round(seconds / 60) });
  }

  function renderBanner() {
    banner.replaceChildren();
    if (S.state === "queued") {
      const wait = formatWait(S.queue?.eta_s);
      const text =
        S.queue?.position != null && wait
          ? t("queued", { position: S.queue.position, wait })
          : t("queuedShort");
      const stay = h("button", { type: "button", class: "link-btn", text: t("stayBot") });
      stay.addEventListener("click", () => sendControl({ type: "cancel_handoff" }));
      banner.append(h("p", { text }), stay);
    }
    // The server words the offline notice and the thanks as messages; the banner holds the form.
    if (S.offline && S.state === "queued" && !S.contact) banner.append(emailForm());
    if (emailing) banner.append(transcriptForm());
    // A conversation exists from the moment the chat opens; there is something to email only
    // once a message is stored.
    emailMeBtn.hidden = emailOff || !S.conversationId || !S.lastSeq;
    emailMeBtn.setAttribute("aria-expanded", String(emailing));
    banner.hidden = !banner.childElementCount;
    handoffBtn.setAttribute("aria-pressed", String(S.state === "queued" || S.state === "agent"));
  }

  function emailForm() {
    const field = h("input", { id: "email", type: "email", autocomplete: "email", required: true });
    const form = h(
      "form",
      { class: "email-form" },
      h("label", { for: "email", text: t("offline") }),
      h(
        "div",
        { class: "email-row" },
        field,
        h("button", { type: "submit", class: "primary", text: t("emailSend") }),
      ),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const email = field.value.trim();
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
        showAlert(t("emailInvalid"));
        field.focus();
        return;
      }
      sendControl({ type: "contact", email });
      S.contact = email;
      save();
      renderBanner();
    });
    return form;
  }

  // "Email me this conversation": POST /api/conversations/{id}/email with the widget token.
  function transcriptForm() {
    const field = h("input", {
      id: "transcript-email",
      type: "email",
      autocomplete: "email",
      required: true,
      value: S.contact || "",
    });
    const form = h(
      "form",
      { class: "email-form" },
      h("label", { for: "transcript-email", text: t("emailMeTo") }),
      h(
        "div",
        { class: "email-row" },
        field,
        h("button", { type: "submit", class: "primary", text: t("emailMeSend") }),
      ),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const email = field.value.trim();
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
        showAlert(t("emailInvalid"));
        field.focus();
        return;
      }
      let response = null;
      try {
        const path = `/api/conversations/${encodeURIComponent(S.conversationId)}/email`;
        response = await fetch(`${ORIGIN}${path}`, {
          method: "POST",
          headers: { "Content-Type": "application/json", Authorization: `Bearer ${S.token}` },
          body: JSON.stringify({ email }),
        });
      } catch {
        /* offline: said below */
      }
      if (response?.status === 404) emailOff = true;
      if (response?.ok) {
        emailing = false;
        S.history.push({ kind: "note", text: t("emailMeSent", { email }) });
        save();
        append(noteNode(t("emailMeSent", { email })), { force: true });
      } else if (response?.status === 404) {
        emailing = false;
        showAlert(t("emailMeOff"));
      } else {
        showAlert(t(response?.status === 429 ? "err_rate_limited" : "err_generic"));
      }
      renderBanner();
    });
    return form;
  }

  function ratingNode() {
    const box = h("div", { class: "rating", role: "group", "aria-label": t("rateTitle") });
    if (S.rated != null) {
      const again = h("button", { type: "button", class: "primary", text: t("newChat") });
      again.addEventListener("click", startOver);
      box.append(h("p", { text: t("rated", { n: S.rated }) }), again);
      return box;
    }
    const stars = h("div", { class: "stars" });
    for (let n = 1; n <= 5; n++) {
      const btn = h(
        "button",
        {
          type: "button",
          class: "star",
          "aria-label": t("rateN", { n }),
          title: t("rateN", { n }),
        },
        icon("star"),
      );
      btn.addEventListener("click", () => {
        S.rated = n;
        save();
        sendControl({ type: "rating", value: n });
        const node = ratingNode();
        box.replaceWith(node);
        node.querySelector("button").focus();
      });
      stars.append(btn);
    }
    box.append(h("p", { class: "rate-title", text: t("rateTitle") }), stars);
    return box;
  }

  function offerRating() {
    const existing = log.querySelector(".rating");
    if (existing) {
      existing.querySelector("button")?.focus();
      return;
    }
    const node = ratingNode();
    append(node, { force: true });
    node.querySelector("button").focus();
  }

  function dropSocket() {
    const old = ws;
    ws = null; // first, so the close handler knows this socket is no longer ours
    old?.close();
  }

  function startOver() {
    dropSocket();
    S = { ...fresh(), open: S.open };
    save();
    renderAll();
    input.focus();
    connect();
  }

  // ---------------------------------------------------------------- connection
  let ws = null;
  let attempt = 0;
  let retryTimer = null;
  let creating = null;
  let inflight = []; // client_ids sent on the current socket, oldest first
  let controls = []; // control events waiting for a socket
  let lastTypingSent = 0;

  async function ensureConversation() {
    if (S.conversationId && S.token) return true;
    creating ??= fetch(`${ORIGIN}/api/conversations`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ lang: LANG }),
    })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
      .then((data) => {
        S.conversationId = data.conversation_id;
        S.token = data.token;
        S.startedAt = Date.now();
        S.lastSeq = 0;
        save();
        return true;
      })
      .catch(() => false)
      .finally(() => (creating = null));
    return creating;
  }

  async function connect() {
    clearTimeout(retryTimer);
    if (ws) return;
    setStatus(attempt ? "reconnecting" : "connecting");
    if (!(await ensureConversation())) {
      if (attempt > 1) showAlert(t("err_start"));
      return scheduleReconnect();
    }
    if (ws) return;
    const params = new URLSearchParams({ token: S.token, after: String(S.lastSeq) });
    const sock = new WebSocket(`${ORIGIN.replace(/^http/, "ws")}/ws/widget?${params}`);
    ws = sock;
    inflight = [];
    let expired = false;
    sock.addEventListener("open", () => {
      if (ws !== sock) return;
      attempt = 0;
      setStatus("online");
      for (const item of S.outbox) sendItem(item);
      for (const event of controls.splice(0)) sock.send(JSON.stringify(event));
    });
    sock.addEventListener("message", (event) => {
      if (ws !== sock) return;
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      if (data.type === "error" && data.code === "bad_token") expired = true;
      handle(data);
    });
    sock.addEventListener("close", (event) => {
      if (ws !== sock) return;
      ws = null;
      dropStreams();
      hideTyping();
      // A rejected token (ours expired, or the server forgot us) means a new conversation.
      if (expired || event.code === 4401 || event.code === 4403) return restart();
      setStatus("reconnecting");
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    clearTimeout(retryTimer);
    // Exponential backoff with jitter, so a restarted server is not hit by every widget at once.
    const ceiling = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** attempt);
    attempt += 1;
    retryTimer = setTimeout(connect, ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  function restart() {
    showAlert(t("err_bad_token"));
    const { outbox, open } = S;
    S = { ...fresh(), outbox, open };
    save();
    renderAll();
    attempt = 0;
    connect();
  }

  function sendItem(item) {
    if (!ws || ws.readyState !== WebSocket.OPEN || inflight.includes(item.client_id)) return;
    ws.send(JSON.stringify({ type: "message", client_id: item.client_id, text: item.text }));
    inflight.push(item.client_id);
  }

  function sendControl(event) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(event));
    else {
      controls.push(event);
      connect();
    }
  }

  window.addEventListener("online", () => {
    attempt = 0;
    if (!ws) connect();
  });
  // A socket can hang silently when the network goes away; drop it and let backoff take over.
  window.addEventListener("offline", () => ws?.close());
  window.addEventListener("storage", (event) => {
    if (event.key !== STORE_KEY || !event.newValue) return;
    try {
      followOtherTab(JSON.parse(event.newValue));
    } catch {
      /* not ours to read */
    }
  });

  // Another tab of this site writes the same storage. Take over what it has queued (both tabs
  // may send it: the server keeps one copy per client_id), and follow it to a newer conversation.
  function followOtherTab(other) {
    if (!other.conversationId) return;
    const mine = (o) => S.outbox.some((x) => x.client_id === o.client_id);
    if (other.conversationId !== S.conversationId) {
      if ((other.startedAt || 0) <= (S.startedAt || 0)) return;
      const outbox = [
        ...other.outbox,
        ...S.outbox.filter((o) => !other.outbox.some((x) => x.client_id === o.client_id)),
      ];
      dropSocket();
      S = { ...fresh(), ...other, outbox, open: S.open };
      save();
      renderAll();
      connect();
      return;
    }
    const settled = new Set(S.history.map((i) => i.client_id).filter(Boolean));
    const adopted = other.outbox.filter((o) => !settled.has(o.client_id) && !mine(o));
    for (const item of adopted) {
      S.outbox.push(item);
      append(pendingNode(item));
      sendItem(item);
    }
    if (adopted.length) save();
  }

  // ---------------------------------------------------------------- server events
  function handle(event) {
    switch (event.type) {
      case "ack":
        return onAck(event);
      case "message":
        return onMessage(event);
      case "token":
        return onToken(event);
      case "stream_aborted":
        return dropStream(event.stream_id);
      case "typing":
        return event.on ? showTyping(event.role, event.author) : hideTyping();
      case "state":
        return onState(event);
      case "error":
        return onError(event);
    }
  }

  function settle(clientId, seq) {
    // The message is stored: it leaves the outbox and becomes history.
    const index = S.outbox.findIndex((o) => o.client_id === clientId);
    if (index < 0) return null;
    const [sent] = S.outbox.splice(index, 1);
    inflight = inflight.filter((id) => id !== clientId);
    const item = { kind: "msg", seq, role: "customer", text: sent.text, client_id: clientId };
    remember(item);
    placeStored(item, bubbles.get(`c:${clientId}`));
    save();
    return item;
  }

  function onAck({ client_id, seq }) {
    settle(client_id, seq);
  }

  const known = (seq) => seq != null && S.history.some((i) => i.seq === seq);

  function onMessage(m) {
    const first = !S.lastSeq;
    if (m.seq != null) S.lastSeq = Math.max(S.lastSeq, m.seq);
    if (first && S.lastSeq) renderBanner(); // the first stored message: "Email me" appears
    if (m.client_id && S.outbox.some((o) => o.client_id === m.client_id)) {
      settle(m.client_id, m.seq);
      return;
    }
    if (known(m.seq) || (m.client_id && S.history.some((i) => i.client_id === m.client_id))) {
      save();
      return;
    }
    const item = {
      kind: "msg",
      seq: m.seq,
      role: m.role,
      text: m.text,
      citations: m.citations || [],
      author: m.author,
      client_id: m.client_id,
    };
    if (m.role === "system") {
      const note = { kind: "note", seq: m.seq, text: m.text };
      remember(note);
      placeStored(note);
      save();
      bump();
      return;
    }
    remember(item);
    save();
    placeStored(item, streams.get(m.stream_id)?.node);
    streams.delete(m.stream_id);
    if (m.role !== "customer") {
      hideTyping();
      bump();
    }
  }

  function onToken({ stream_id, text }) {
    const old = streams.get(stream_id);
    const item = { role: "bot", text: (old?.text || "") + (text || ""), streaming: true };
    const node = messageNode(item);
    // aria-busy: screen readers announce the answer once, when the final message replaces it.
    node.setAttribute("aria-busy", "true");
    hideTyping();
    const stick = nearBottom();
    if (old?.node.isConnected) old.node.replaceWith(node);
    else log.append(node);
    if (stick) log.scrollTop = log.scrollHeight;
    streams.set(stream_id, { node, text: item.text });
  }

  function dropStream(streamId) {
    // The model broke off: the half answer goes, and a person takes over (a state event).
    streams.get(streamId)?.node.remove();
    streams.delete(streamId);
  }

  function dropStreams() {
    // Half-streamed answers are not history: replay brings the stored final message.
    for (const { node } of streams.values()) node.remove();
    streams.clear();
  }

  let typingHide = null;
  function showTyping(role, author) {
    typing.querySelector(".typing-text").textContent =
      role === "agent" ? t("typingAgent", { who: author || t("agent") }) : t("typingBot");
    typing.hidden = false;
    clearTimeout(typingHide);
    typingHide = setTimeout(hideTyping, 30000);
  }
  function hideTyping() {
    typing.hidden = true;
    clearTimeout(typingHide);
  }

  function onState(event) {
    const previous = S.state;
    S.state = event.state;
    S.queue = event.state === "queued" ? { position: event.position, eta_s: event.eta_s } : null;
    if (event.offline != null) S.offline = Boolean(event.offline);
    if (event.state === "bot" || event.state === "agent") S.offline = false;
    let note = null;
    if (event.state !== previous) {
      if (event.state === "agent")
        note = event.agent ? t("agentJoined", { agent: event.agent }) : t("agentJoinedAnon");
      else if (event.state === "bot" && previous !== "resolved") note = t("backToBot");
      else if (event.state === "resolved") note = t("resolved");
    }
    if (note) {
      S.history.push({ kind: "note", text: note });
      append(noteNode(note));
    }
    save();
    renderBanner();
    if (event.state === "resolved" && previous !== "resolved") offerRating();
  }

  function onError({ code, client_id, retry_after_s }) {
    const key = `err_${code}`;
    showAlert(STRINGS.en[key] ? t(key) : t("err_generic"));
    if (code === "rate_limited" || code === "unavailable") {
      // Nothing was stored: send the outbox again after the pause the server asked for
      // (re-sending is safe, the server keeps one copy per client_id).
      const sock = ws;
      inflight = [];
      setTimeout(() => ws === sock && S.outbox.forEach(sendItem), (retry_after_s ?? 3) * 1000);
      return;
    }
    if (code !== "too_long" && code !== "empty") return;
    // A message the server will never take must leave the outbox, or it would be re-sent forever.
    const id = client_id || inflight[0];
    const index = S.outbox.findIndex((o) => o.client_id === id);
    if (index < 0) return;
    S.outbox.splice(index, 1);
    inflight = inflight.filter((x) => x !== id);
    save();
    const node = bubbles.get(`c:${id}`);
    node?.querySelector(".meta")?.replaceChildren(t("notSent"));
    node?.classList.replace("pending", "failed");
  }

  // ---------------------------------------------------------------- user actions
  function submit() {
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    grow();
    const item = { client_id: newClientId(), text };
    S.outbox.push(item);
    save();
    append(pendingNode(item), { force: true });
    if (ws && ws.readyState === WebSocket.OPEN) sendItem(item);
    else connect();
  }

  function grow() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 128)}px`;
  }

  function setOpen(open, { focus = true } = {}) {
    S.open = open;
    save();
    panel.hidden = !open;
    root.classList.toggle("is-open", open);
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", open ? t("close") : t("open"));
    if (open) {
      unread = 0;
      badge.hidden = true;
      log.scrollTop = log.scrollHeight;
      if (focus) input.focus();
      connect();
    } else if (focus) launcher.focus();
  }

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  input.addEventListener("keydown", (event) => {
    // isComposing: Enter also confirms a Chinese/Japanese IME candidate; that must not send.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", () => {
    grow();
    const now = Date.now();
    if (now - lastTypingSent > TYPING_EVERY_MS && ws && ws.readyState === WebSocket.OPEN) {
      lastTypingSent = now;
      ws.send(JSON.stringify({ type: "typing" }));
    }
  });
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      setOpen(false);
    }
  });
  launcher.addEventListener("click", () => setOpen(!S.open));
  closeBtn.addEventListener("click", () => setOpen(false));
  handoffBtn.addEventListener("click", () => sendControl({ type: "handoff_request" }));
  endBtn.addEventListener("click", offerRating);
  emailMeBtn.addEventListener("click", () => {
    emailing = !emailing;
    renderBanner();
    if (emailing) shadow.getElementById("transcript-email")?.focus();
  });

  function mount() {
    document.body.append(host);
    renderAll();
    if (S.open) setOpen(true, { focus: false });
    // A stored conversation reconnects at once, so agent replies arrive even while closed.
    else if (S.conversationId) connect();
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount, { once: true });
})();
