// The conversation on a ticket's page: the thread and a reply box. On the console a worker replies to the resident,
// asks them a question (the ticket then waits, its deadline paused) or leaves an internal note; on the H5 page the
// resident reads the replies (never the notes) and answers. Loaded after console.js or h5.js, whose API call it uses.
"use strict";

const THREAD_POLL_MS = 30000;

function conversationCall() {
  // h5.js calls as the resident (logging in when needed); console.js with the worker's token.
  return typeof residentApi === "function" ? residentApi : call;
}

function messageAuthor(message, asWorker) {
  if (message.author === "resident") return asWorker ? "居民" : "我";
  return partyName(message.party) || "工作人员";
}

function messageItem(message, asWorker) {
  const marks = [message.internal ? "内部备注" : "", message.asks_resident ? "提问" : ""].filter(Boolean);
  const classes = ["message", `from-${message.author}`, message.internal ? "internal" : "", message.asks_resident ? "question" : ""];
  return el(
    "li",
    { class: classes.filter(Boolean).join(" ") },
    el("span", { class: "when" }, [messageAuthor(message, asWorker), ...marks, formatTime(message.created_at)].join(" · ")),
    el("p", { class: "message-text" }, message.text),
    ...message.attachment_urls.map((url) =>
      el("a", { href: url, target: "_blank", rel: "noopener" }, el("img", { class: "message-photo", src: url, alt: "照片" })),
    ),
  );
}

function setUpConversation(section) {
  const asWorker = document.body.classList.contains("console");
  const path = `/v1/tickets/${encodeURIComponent(PAGE.ticket_id)}/messages`;
  const thread = section.querySelector(".thread");
  const empty = section.querySelector(".thread-empty");
  const draft = section.querySelector(".reply-text");
  const sendButton = section.querySelector(".reply-send");
  const problem = section.querySelector(".conversation-problem");
  const send = conversationCall();

  function say(words) {
    problem.textContent = words;
    show(problem, Boolean(words));
  }

  async function load() {
    try {
      const { messages } = await send("GET", path);
      thread.replaceChildren(...messages.map((message) => messageItem(message, asWorker)));
      show(empty, messages.length === 0);
      say("");
    } catch (error) {
      say(error.status === 404 ? "没有找到这条反映。" : `对话暂时看不到:${describeError(error)}`);
    }
  }

  async function post() {
    const body = { text: draft.value };
    if (asWorker) {
      const kind = section.querySelector("input[name=reply-kind]:checked").value;
      body.internal = kind === "internal";
      body.asks_resident = kind === "question";
    }
    sendButton.disabled = true;
    try {
      const posted = await send("POST", path, body);
      draft.value = "";
      // The page's own script shows the ticket as it is now: waiting after a question, back at work after the answer.
      document.dispatchEvent(new CustomEvent("linli:ticket", { detail: posted.ticket }));
      await load();
    } catch (error) {
      say(`没有发出去:${describeError(error)}`);
    } finally {
      sendButton.disabled = false;
    }
  }

  sendButton.addEventListener("click", post);
  load();
  setInterval(() => {
    if (document.visibilityState === "visible") load();
  }, THREAD_POLL_MS);
}

const conversationSection = document.getElementById("conversation");
if (conversationSection) setUpConversation(conversationSection);
