// The console's WeCom (企业微信) login: runs before console.js. The callback of /v1/auth/wecom lands here with
// `#wecom_token=<token>` (a fragment never reaches a server or its logs): the token is kept as a pasted one would be,
// and the fragment dropped from the address bar and the history.
"use strict";

(function () {
  const TOKEN_KEY = "linli.token"; // console.js reads the same key
  const landed = /^#wecom_token=([A-Za-z0-9_.-]+)$/.exec(location.hash);
  if (landed) {
    sessionStorage.setItem(TOKEN_KEY, landed[1]);
    history.replaceState(null, "", location.pathname + location.search);
  }
  // Inside the WeCom app the silent authorize page signs the worker in; elsewhere, WeCom shows a QR code to scan.
  const link = document.getElementById("wecom-login");
  if (link && /wxwork/i.test(navigator.userAgent)) link.href = "/v1/auth/wecom/start?in_app=true";
})();
