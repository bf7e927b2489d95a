/* The portal's service worker (CONTRACT.md §9): the shell and its assets are kept, so the portal
   starts without a network and the card page (its data kept by the page itself) opens offline.
   The API (/v1/…) is never cached here: it always goes to the network. */
"use strict";
var VERSION = "__VERSION__";
var CACHE = "jkn-portal-" + VERSION;
var SHELL = ["/", "/manifest.webmanifest", "/portal/app.css?v=" + VERSION, "/portal/app.js?v=" + VERSION,
             "/portal/views.js?v=" + VERSION,
             "/portal/qrcode.js?v=" + VERSION, "/portal/icon-192.png?v=" + VERSION];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(SHELL); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) { return name.indexOf("jkn-portal-") === 0 && name !== CACHE; })
      .map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === "/") {
    // The shell: the network's when there is one (a new release), else the kept one.
    event.respondWith(fetch(request).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { return cache.put("/", copy); });
      }
      return response;
    }).catch(function () {
      return caches.match("/", {ignoreSearch: true});
    }));
    return;
  }
  if (url.pathname.indexOf("/portal/") === 0 || url.pathname === "/manifest.webmanifest") {
    // Versioned assets: the kept copy first.
    event.respondWith(caches.match(request).then(function (kept) {
      return kept || fetch(request);
    }));
  }
});
