// The resident's H5 page: who the resident is. Logs in the way the place allows (development, mini-program web-view,
// WeChat's browser through the official account, any browser by SMS) and keeps the token. Loaded before h5.js.
"use strict";

const RESIDENT_KEY = "linli.resident";
const SESSION_KEY = "linli.session";
// A token this close to its expiry is renewed before use rather than sent and refused.
const RENEW_MS = 60000;

// Development logins (`dev:<openid>`) need an openid: a plain browser keeps a random one of its own.
function devOpenid() {
  let id = localStorage.getItem(RESIDENT_KEY);
  if (!id) {
    id = randomId("h5-");
    localStorage.setItem(RESIDENT_KEY, id);
  }
  return id;
}

// ── login ───────────────────────────────────────────────────────────────────────────────────────────────────────
// Development (`make run`): `dev:<openid>`. Inside WeChat's browser: the official account's web authorization
// (a redirect to WeChat and back with ?code=). A mini-program's web-view with wx.login: its code. Any other browser:
// phone number and texted code.
const OA_STATE_KEY = "linli.oauth_state";
const SMS_WAIT_KEY = "linli.sms_wait_until";

function inWeChatBrowser() {
  return /MicroMessenger/i.test(navigator.userAgent);
}

function keepSession(session) {
  localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return session.token;
}

function wxLoginCode() {
  return new Promise((resolve, reject) =>
    window.wx.login({ success: (result) => resolve(result.code), fail: () => reject(new Error("微信登录失败,请重试。")) }),
  );
}

// Back from WeChat's authorization: {code} once, code "" when the state is not the one this page sent (a forged or
// stale link), null when not back from WeChat at all. The state is in localStorage: WeChat's browser may not keep
// sessionStorage across the round trip, and a lost state must not send the resident round it again and again.
function takeOauthCode() {
  const url = new URL(window.location.href);
  const code = url.searchParams.get("code");
  const state = url.searchParams.get("state");
  if (!code) return null;
  url.searchParams.delete("code");
  url.searchParams.delete("state");
  history.replaceState(null, "", url.pathname + url.search + url.hash);
  const expected = localStorage.getItem(OA_STATE_KEY);
  localStorage.removeItem(OA_STATE_KEY);
  return { code: expected && state === expected ? code : "" };
}

// Leaves for WeChat's authorization page; it comes back to this very page with ?code=&state=.
function redirectToWeChat(oa) {
  const state = randomId("oa-").replace(/[^A-Za-z0-9]/g, "").slice(0, 32);
  localStorage.setItem(OA_STATE_KEY, state);
  const query = new URLSearchParams({
    appid: oa.appid,
    redirect_uri: window.location.href.split("#")[0],
    response_type: "code",
    scope: oa.scope,
    state,
  });
  window.location.replace(`${oa.authorize_url}?${query}#wechat_redirect`);
  return new Promise(() => {}); // the page is leaving
}

// `make run` logs in as `dev:<openid>`; `?login=sms` tries the SMS form there (the dev provider prints the code).
function wantsSmsForm() {
  return PAGE.sms_login && new URLSearchParams(window.location.search).get("login") === "sms";
}

// Taken as the script loads, so that the spent code leaves the address bar whether or not a login needs it.
let oauthCode = takeOauthCode();

// One login at a time: the page's parts ask for a token together, and must not each redirect or show a form.
let loginPending = null;
function logIn() {
  if (!loginPending) {
    loginPending = freshLogin().finally(() => {
      loginPending = null;
    });
  }
  return loginPending;
}

async function freshLogin() {
  if (PAGE.login === "dev" && !wantsSmsForm()) {
    return keepSession(await api("POST", "/v1/auth/wechat", { code: `dev:${devOpenid()}` }));
  }
  if (window.wx && typeof window.wx.login === "function") {
    return keepSession(await api("POST", "/v1/auth/wechat", { code: await wxLoginCode() }));
  }
  if (inWeChatBrowser() && PAGE.wechat_oa) {
    const returned = oauthCode;
    oauthCode = null; // a code works once; a later login goes through WeChat again
    if (returned && !returned.code) throw new Error("微信授权没有完成,请关闭页面后重新打开。");
    if (returned) return keepSession(await api("POST", "/v1/auth/wechat-web", { code: returned.code }));
    return redirectToWeChat(PAGE.wechat_oa);
  }
  // The phone + code form: resolves with the token once the resident has logged in with it.
  if (PAGE.sms_login) return new Promise((resolve) => showSmsForm(resolve));
  throw new Error("请在微信中打开。");
}

// The server's own words for a wrong code or a wait (describeError would call any 401 an expired login).
function sayLoginProblem(error, problem) {
  const fields = problem instanceof ApiError && problem.fields.length;
  error.textContent = problem ? (fields ? describeError(problem) : problem.message) : "";
  show(error, Boolean(problem));
}

// 发送验证码 counting down the wait the server asked for; kept in sessionStorage, so a reload still waits.
function sendCountdown(send) {
  let timer = null;
  const tick = () => {
    const left = Math.ceil((Number(sessionStorage.getItem(SMS_WAIT_KEY) || 0) - Date.now()) / 1000);
    send.disabled = left > 0;
    send.textContent = left > 0 ? `${left} 秒后重发` : "发送验证码";
    if (left <= 0) clearInterval(timer);
  };
  const resume = () => {
    clearInterval(timer);
    tick();
    timer = setInterval(tick, 1000);
  };
  return {
    resume,
    waitFor(seconds) {
      sessionStorage.setItem(SMS_WAIT_KEY, String(Date.now() + seconds * 1000));
      resume();
    },
    stop: () => clearInterval(timer),
  };
}

function showSmsForm(done) {
  const card = document.getElementById("login-card");
  const phone = document.getElementById("login-phone");
  const code = document.getElementById("login-code");
  const send = document.getElementById("login-send");
  const submit = document.getElementById("login-submit");
  const error = document.getElementById("login-error");
  const countdown = sendCountdown(send);
  show(card, true);
  card.scrollIntoView({ block: "start" });
  phone.focus();
  send.onclick = async () => {
    sayLoginProblem(error, null);
    send.disabled = true;
    try {
      const sent = await api("POST", "/v1/auth/sms/code", { phone: phone.value });
      countdown.waitFor(sent.retry_after_seconds);
      code.focus();
    } catch (problem) {
      const waiting = problem instanceof ApiError && problem.status === 429 && problem.retryAfter;
      if (waiting) countdown.waitFor(problem.retryAfter);
      else send.disabled = false;
      sayLoginProblem(error, problem);
    }
  };
  submit.onclick = async () => {
    sayLoginProblem(error, null);
    submit.disabled = true;
    try {
      const session = await api("POST", "/v1/auth/sms/login", { phone: phone.value, code: code.value });
      show(card, false);
      countdown.stop();
      done(keepSession(session));
    } catch (problem) {
      sayLoginProblem(error, problem);
    } finally {
      submit.disabled = false;
    }
  };
  countdown.resume();
}

// The resident's token: the stored one while it is good, else a fresh login.
async function residentToken() {
  const session = JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
  if (session && new Date(session.expires_at).getTime() - Date.now() > RENEW_MS) return session.token;
  return logIn();
}

// One call as the resident; a token refused (expired, or the server's key changed) is replaced once.
async function residentApi(method, path, body) {
  try {
    return await api(method, path, body, await residentToken());
  } catch (problem) {
    if (!(problem instanceof ApiError) || problem.status !== 401) throw problem;
    localStorage.removeItem(SESSION_KEY);
    return api(method, path, body, await logIn());
  }
}
