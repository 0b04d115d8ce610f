// wx.login, wx.request, wx.uploadFile and storage on Node's fetch, so that the built API layer (dist/api) talks to a
// real intake over HTTP exactly as it would from a phone. For tests only: it never ships in dist/.
"use strict";

const { readFile } = require("node:fs/promises");
const { basename, extname } = require("node:path");

const IMAGE_TYPES = { ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg" };

function headersOf(response) {
  const headers = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  return headers;
}

function failWith(options, api, error) {
  if (options.fail) options.fail({ errMsg: `${api}:fail ${error.message}` });
}

/** A `wx` whose wx.login answers the development verifier's code `dev:<openid>`. */
function createWx({ openid }) {
  const storage = new Map();
  return {
    getStorageSync: (key) => (storage.has(key) ? JSON.parse(storage.get(key)) : ""),
    setStorageSync: (key, value) => storage.set(key, JSON.stringify(value)),
    removeStorageSync: (key) => storage.delete(key),
    login: (options) => setImmediate(() => options.success({ code: `dev:${openid}`, errMsg: "login:ok" })),
    request: (options) => {
      fetch(options.url, { method: options.method || "GET", headers: options.header, body: options.data })
        .then(async (response) => {
          const text = await response.text();
          // dataType "其他" asks wx.request for the raw text, as the API layer does.
          const data = options.dataType === "json" && text ? JSON.parse(text) : text;
          options.success({ statusCode: response.status, data, header: headersOf(response), errMsg: "request:ok" });
        })
        .catch((error) => failWith(options, "request", error));
    },
    uploadFile: (options) => {
      readFile(options.filePath)
        .then((content) => {
          const form = new FormData();
          for (const [key, value] of Object.entries(options.formData || {})) form.append(key, value);
          const type = IMAGE_TYPES[extname(options.filePath).toLowerCase()] || "application/octet-stream";
          form.append(options.name, new Blob([content], { type }), basename(options.filePath));
          return fetch(options.url, { method: "POST", headers: options.header, body: form });
        })
        .then(async (response) => {
          options.success({ statusCode: response.status, data: await response.text(), errMsg: "uploadFile:ok" });
        })
        .catch((error) => failWith(options, "uploadFile", error));
    },
  };
}

module.exports = { createWx };
