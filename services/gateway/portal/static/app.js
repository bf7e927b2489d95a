/* The JKN participant portal (CONTRACT.md §9): a small client of the public /v1 API, the same
   routes as the mobile app. One file, no framework, no build step; views are drawn from the API's
   answers; Bahasa Indonesia by default, English on switch.

   Tokens: the access token lives in this script's memory only; the refresh token (single use,
   rotated on every refresh) in sessionStorage, so a reload keeps the session and closing the tab
   ends it. The card is kept in localStorage so that it opens offline; logging out forgets it. */
"use strict";
(function () {
  var body = document.body;
  var FEATURES = (body.getAttribute("data-features") || "").split(" ").filter(Boolean);
  var VERSION = body.getAttribute("data-version") || "";
  function has(feature) { return FEATURES.indexOf(feature) >= 0; }

  // -- storage that never throws (private windows, full disks) ----------------------------------
  function storage(kind) {
    return {
      get: function (key) { try { return window[kind].getItem(key); } catch (e) { return null; } },
      set: function (key, value) { try { window[kind].setItem(key, value); } catch (e) { /* not kept */ } },
      drop: function (key) { try { window[kind].removeItem(key); } catch (e) { /* nothing kept */ } }
    };
  }
  var local = storage("localStorage"), tab = storage("sessionStorage");
  function readJson(key) { try { return JSON.parse(local.get(key) || "null"); } catch (e) { return null; } }

  // -- words ---------------------------------------------------------------------------------------
  var TEXT = {
    id: {
      otherLanguage: "English", otherLanguageCode: "en", skip: "Langsung ke isi", menu: "Menu utama",
      loading: "Memuat…", home: "Beranda", card: "Kartu", bills: "Iuran", facilities: "Faskes",
      book: "Ambil Antrean", bookings: "Antrean Saya", logout: "Keluar",
      loginTitle: "Masuk ke portal JKN", identifier: "NIK, nomor kartu (NOKA) atau email",
      password: "Kata sandi", login: "Masuk", remember: "Simpan data username",
      rememberHint: "Hanya NIK, NOKA atau email yang disimpan di perangkat ini — tidak pernah kata sandinya.",
      savedAccounts: "Akun tersimpan di perangkat ini", useAccount: "Pakai akun {name}", forget: "Hapus",
      forgetAccount: "Hapus {name} dari perangkat ini", noAccount: "Belum punya akun JKN Mobile?",
      activateLink: "Aktifkan akun", captchaLabel: "Tulis huruf dan angka pada gambar", captchaAlt: "Gambar captcha",
      captchaNew: "Gambar lain", captchaNeeded: "Tulis kode pada gambar, lalu coba lagi.",
      required: "Wajib diisi.", invalid: "Isian ini tidak valid.", badFormat: "Formatnya tidak sesuai.",
      tooShort: "Terlalu pendek.", tooLong: "Terlalu panjang.",
      retryIn: "Coba lagi dalam {s} detik.", attemptsLeft: "Sisa percobaan: {n}.",
      offline: "Tidak ada koneksi internet", offlineDetail: "Periksa koneksi Anda, lalu coba lagi.",
      unexpected: "Terjadi kesalahan", unexpectedDetail: "Silakan coba lagi sebentar lagi.",
      expired: "Sesi Anda berakhir. Silakan masuk lagi.", activated: "Akun Anda sudah aktif. Silakan masuk.",
      loggedOut: "Anda sudah keluar.",
      activateTitle: "Aktifkan akun", activateIntro: "Untuk peserta JKN yang belum punya akun. Kode aktivasi dikirim lewat SMS.",
      regIdentifier: "NIK (16 angka) atau nomor kartu (13 angka)", birthDate: "Tanggal lahir", phone: "Nomor HP",
      phoneHint: "Contoh: 081234567890", email: "Email", emailHint: "Untuk pemulihan akun dan pemberitahuan.",
      passwordHint: "8–128 karakter, dengan huruf kecil, huruf besar dan angka; bukan NIK, NOKA atau tanggal lahir.",
      sendCode: "Kirim kode SMS", codeSent: "Kode dikirim lewat SMS ke {to}. Berlaku {min} menit.",
      code: "Kode SMS (6 angka)", activate: "Aktifkan", resend: "Kirim ulang kode",
      resendIn: "Kode bisa dikirim ulang dalam {s} detik.", resent: "Kode yang sama sudah dikirim ulang.",
      byEmail: "Kirim lewat email saja", sentByEmail: "Kode yang sama dikirim ke email Anda.",
      delivery: "Status pengiriman SMS: {s}", QUEUED: "dalam antrean", SENT: "terkirim", FAILED: "gagal terkirim",
      startOver: "Mulai lagi"
    },
    en: {
      otherLanguage: "Bahasa Indonesia", otherLanguageCode: "id", skip: "Skip to content", menu: "Main menu",
      loading: "Loading…", home: "Home", card: "Card", bills: "Premiums", facilities: "Facilities",
      book: "Take a number", bookings: "My bookings", logout: "Log out",
      loginTitle: "Log in to the JKN portal", identifier: "NIK, card number (NOKA) or email",
      password: "Password", login: "Log in", remember: "Remember username (Simpan data username)",
      rememberHint: "Only the NIK, NOKA or email is kept on this device — never the password.",
      savedAccounts: "Accounts kept on this device", useAccount: "Use {name}'s account", forget: "Remove",
      forgetAccount: "Remove {name} from this device", noAccount: "No JKN Mobile account yet?",
      activateLink: "Activate an account", captchaLabel: "Type the letters and digits in the picture",
      captchaAlt: "Captcha picture", captchaNew: "Another picture", captchaNeeded: "Type the code in the picture, then try again.",
      required: "Required.", invalid: "This value is not valid.", badFormat: "The format is not right.",
      tooShort: "Too short.", tooLong: "Too long.",
      retryIn: "Try again in {s} seconds.", attemptsLeft: "Attempts left: {n}.",
      offline: "No internet connection", offlineDetail: "Check your connection, then try again.",
      unexpected: "Something went wrong", unexpectedDetail: "Please try again in a moment.",
      expired: "Your session has ended. Please log in again.", activated: "Your account is active. Please log in.",
      loggedOut: "You have logged out.",
      activateTitle: "Activate an account", activateIntro: "For JKN participants without an account. The activation code comes by SMS.",
      regIdentifier: "NIK (16 digits) or card number (13 digits)", birthDate: "Date of birth", phone: "Mobile number",
      phoneHint: "For example: 081234567890", email: "Email", emailHint: "For account recovery and notices.",
      passwordHint: "8–128 characters with a lower-case letter, an upper-case letter and a digit; not your NIK, NOKA or birth date.",
      sendCode: "Send the SMS code", codeSent: "A code was sent by SMS to {to}. It is valid for {min} minutes.",
      code: "SMS code (6 digits)", activate: "Activate", resend: "Send the code again",
      resendIn: "The code can be sent again in {s} seconds.", resent: "The same code was sent again.",
      byEmail: "Send by email instead", sentByEmail: "The same code was sent to your email.",
      delivery: "SMS delivery: {s}", QUEUED: "queued", SENT: "sent", FAILED: "failed",
      startOver: "Start over",
    }
  };
  var lang = local.get("jkn.lang") === "en" ? "en" : "id";
  function t(key, vars) {
    var text = TEXT[lang][key];
    if (text === undefined) text = TEXT.id[key] !== undefined ? TEXT.id[key] : key;
    return text.replace(/\{(\w+)\}/g, function (_, name) { return vars && vars[name] !== undefined ? vars[name] : ""; });
  }
  function locale() { return lang === "en" ? "en-GB" : "id-ID"; }
  function rupiah(amount) {
    return new Intl.NumberFormat("id-ID", {style: "currency", currency: "IDR", maximumFractionDigits: 0}).format(amount);
  }
  function dateText(iso) {
    var parts = String(iso).slice(0, 10).split("-");
    var day = new Date(Date.UTC(+parts[0], +parts[1] - 1, +parts[2]));
    return new Intl.DateTimeFormat(locale(), {day: "numeric", month: "long", year: "numeric", timeZone: "UTC"}).format(day);
  }
  function monthText(period) {
    var parts = period.split("-");
    return new Intl.DateTimeFormat(locale(), {month: "long", year: "numeric", timeZone: "UTC"})
      .format(new Date(Date.UTC(+parts[0], +parts[1] - 1, 1)));
  }
  function instantText(iso) {
    return new Intl.DateTimeFormat(locale(), {day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
                                              timeZone: "Asia/Jakarta"}).format(new Date(iso)) + " WIB";
  }
  function timeText(iso) {
    return new Intl.DateTimeFormat(locale(), {hour: "2-digit", minute: "2-digit", timeZone: "Asia/Jakarta"})
      .format(new Date(iso));
  }
  /** Today's date (YYYY-MM-DD) on the Asia/Jakarta calendar, `days` later. */
  function jakartaDate(days) {
    var today = new Intl.DateTimeFormat("en-CA", {timeZone: "Asia/Jakarta"}).format(new Date());
    var parts = today.split("-");
    var day = new Date(Date.UTC(+parts[0], +parts[1] - 1, +parts[2] + (days || 0)));
    return day.toISOString().slice(0, 10);
  }

  // -- DOM -----------------------------------------------------------------------------------------
  function h(tag, props, kids) {
    var el = document.createElement(tag);
    Object.keys(props || {}).forEach(function (key) {
      var value = props[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key.slice(0, 2) === "on") el.addEventListener(key.slice(2), value);
      else if (key === "value") el.value = value;
      else if (key === "checked") el.checked = !!value;
      else el.setAttribute(key, value === true ? "" : value);
    });
    append(el, kids);
    return el;
  }
  function append(el, kids) {
    (Array.isArray(kids) ? kids : [kids]).forEach(function (kid) {
      if (kid === null || kid === undefined || kid === false) return;
      if (Array.isArray(kid)) append(el, kid);
      else el.appendChild(typeof kid === "string" || typeof kid === "number" ? document.createTextNode(String(kid)) : kid);
    });
  }
  var ids = 0;
  function uid(prefix) { ids += 1; return prefix + "-" + ids; }

  /** A labelled input with its hint and its error, tied by aria-describedby. */
  function field(name, label, attrs, hint) {
    var id = uid(name), errorId = id + "-error", hintId = hint ? id + "-hint" : null;
    var input = h(attrs && attrs.tag === "select" ? "select" : "input",
                  Object.assign({id: id, name: name}, attrs || {}, {tag: null}));
    var error = h("p", {id: errorId, class: "error", hidden: true});
    input.setAttribute("aria-describedby", [hintId, errorId].filter(Boolean).join(" "));
    var wrap = h("div", {class: "field"}, [h("label", {for: id, text: label}), input,
      hint ? h("span", {id: hintId, class: "hint", text: hint}) : null, error]);
    return {name: name, wrap: wrap, input: input, error: error};
  }
  function setError(f, message) {
    f.error.textContent = message || "";
    f.error.hidden = !message;
    if (message) f.input.setAttribute("aria-invalid", "true"); else f.input.removeAttribute("aria-invalid");
  }
  function clearErrors(fields) { fields.forEach(function (f) { setError(f, ""); }); }
  function requireFilled(fields) {
    var missing = fields.filter(function (f) { return !f.input.value.trim(); });
    missing.forEach(function (f) { setError(f, t("required")); });
    if (missing.length) missing[0].input.focus();
    return !missing.length;
  }
  /** One region that shows a refusal in words (the problem's title and detail), for screen readers too. */
  function alertBox() {
    var el = h("div", {role: "alert", class: "alert", hidden: true});
    return {
      el: el,
      show: function (problem) {
        var parts = [problem.title || t("unexpected")];
        if (problem.detail && problem.detail !== problem.title) parts.push(problem.detail);
        if (problem.retry_after && (problem.status === 423 || problem.status === 429)) {
          parts.push(t("retryIn", {s: problem.retry_after}));
        }
        if (typeof problem.attempts_left === "number") parts.push(t("attemptsLeft", {n: problem.attempts_left}));
        el.textContent = parts.join(" — ");
        el.hidden = false;
      },
      text: function (message) { el.textContent = message; el.hidden = false; },
      clear: function () { el.textContent = ""; el.hidden = true; }
    };
  }
  function notice(message) { return h("p", {class: "notice", role: "status", text: message}); }
  /** Field errors of a 422 VALIDATION_ERROR, shown at their fields. */
  function showFieldErrors(problem, fields) {
    var shown = false;
    (problem.errors || []).forEach(function (item) {
      var f = fields.filter(function (candidate) { return candidate.name === String(item.field).split(".")[0]; })[0];
      if (!f) return;
      var code = String(item.code || "");
      setError(f, code === "missing" ? t("required") : code.indexOf("too_short") >= 0 ? t("tooShort")
        : code.indexOf("too_long") >= 0 ? t("tooLong") : code.indexOf("pattern") >= 0 ? t("badFormat") : t("invalid"));
      if (!shown) { f.input.focus(); shown = true; }
    });
  }
  function busy(button, on) { button.disabled = on; button.setAttribute("aria-busy", on ? "true" : "false"); }

  // -- the API -------------------------------------------------------------------------------------
  function ApiError(status, problem) { this.status = status; this.problem = problem; }
  var session = {access: null, expiresAt: 0, refresh: tab.get("jkn.refresh")};
  var refreshing = null;

  function setTokens(tokens) {
    session.access = tokens.access_token;
    session.expiresAt = Date.now() + Math.max(0, tokens.expires_in - 30) * 1000;
    session.refresh = tokens.refresh_token;
    tab.set("jkn.refresh", tokens.refresh_token);
  }
  function endSession() {
    session.access = null; session.refresh = null; session.expiresAt = 0;
    tab.drop("jkn.refresh");
    local.drop("jkn.card");
  }
  function loggedIn() { return !!(session.access || session.refresh); }
  function refreshTokens() {
    if (!refreshing) {
      refreshing = (async function () {
        if (!session.refresh) throw new ApiError(401, {title: t("expired"), code: "UNAUTHENTICATED"});
        try {
          setTokens(await request("POST", "/v1/sessions/refresh", {refresh_token: session.refresh}));
        } catch (error) {
          if (error.status === 401) endSession();
          throw error;
        }
      })().finally(function () { refreshing = null; });
    }
    return refreshing;
  }
  async function accessToken() {
    if (!session.access || Date.now() >= session.expiresAt) await refreshTokens();
    return session.access;
  }
  async function request(method, path, payload, options) {
    options = options || {};
    var headers = Object.assign({"Accept": "application/json", "Accept-Language": lang}, options.headers || {});
    if (payload !== undefined) headers["Content-Type"] = "application/json";
    if (options.auth) headers.Authorization = "Bearer " + await accessToken();
    var response;
    if (navigator.onLine === false) throw new ApiError(0, {title: t("offline"), detail: t("offlineDetail"), code: "OFFLINE"});
    try {
      response = await fetch(path, {method: method, headers: headers, credentials: "omit", cache: "no-store",
                                    body: payload === undefined ? undefined : JSON.stringify(payload)});
    } catch (e) {
      throw new ApiError(0, {title: t("offline"), detail: t("offlineDetail"), code: "OFFLINE"});
    }
    if (response.status === 401 && options.auth && !options.retried) {
      session.access = null;  // expired or revoked: one refresh, one retry
      return request(method, path, payload, Object.assign({}, options, {retried: true}));
    }
    var data = null;
    if (response.status !== 204) {
      try { data = await response.json(); } catch (e) { data = null; }
    }
    if (!response.ok) {
      var problem = data && data.title ? data : {title: t("unexpected"), detail: t("unexpectedDetail")};
      problem.status = response.status;
      throw new ApiError(response.status, problem);
    }
    return data;
  }
  function api(method, path, payload, options) {
    return request(method, path, payload, Object.assign({auth: true}, options || {}));
  }
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // -- remembered identifiers ("Simpan data username": opt-in, never the password) ------------------
  function remembering() { return local.get("jkn.remember") === "1"; }
  function savedAccounts() { return readJson("jkn.accounts") || []; }
  function saveAccount(identifier, name) {
    var list = savedAccounts().filter(function (a) { return a.identifier !== identifier; });
    list.unshift({identifier: identifier, name: name || ""});
    local.set("jkn.accounts", JSON.stringify(list.slice(0, 5)));
  }
  function forgetAccount(identifier) {
    local.set("jkn.accounts", JSON.stringify(savedAccounts().filter(function (a) { return a.identifier !== identifier; })));
  }
  function masked(identifier) {
    if (identifier.indexOf("@") > 0) return identifier.replace(/^(.).*(@.*)$/, "$1***$2");
    return identifier.length > 8 ? identifier.slice(0, 4) + "…" + identifier.slice(-4) : identifier;
  }

  // -- the page around the views ---------------------------------------------------------------------
  var main = document.getElementById("main");
  var nav = document.getElementById("nav");
  var langButton = document.getElementById("lang");
  var timers = [];
  var flash = null;  // a message for the next view (e.g. "activated")
  var prefill = "";  // an identifier for the next log-in form

  var NAV = [["beranda", "home"], ["kartu", "card"], ["iuran", "bills"], ["faskes", "facilities"],
             ["ambil-antrean", "book"], ["antrean-saya", "bookings"]];

  function chrome(route) {
    document.documentElement.lang = lang;
    langButton.textContent = t("otherLanguage");
    langButton.setAttribute("lang", t("otherLanguageCode"));
    document.querySelector(".skip").textContent = t("skip");
    nav.setAttribute("aria-label", t("menu"));
    nav.textContent = "";
    var show = loggedIn() && !PUBLIC[route];
    nav.hidden = !show;
    if (!show) return;
    var list = h("ul", {}, NAV.map(function (item) {
      return h("li", {}, h("a", {href: "#/" + item[0], text: t(item[1]), "aria-current": item[0] === route ? "page" : null}));
    }));
    list.appendChild(h("li", {}, h("button", {type: "button", class: "link-button", text: t("logout"), onclick: logout})));
    nav.appendChild(list);
  }
  langButton.addEventListener("click", function () {
    lang = lang === "id" ? "en" : "id";
    local.set("jkn.lang", lang);
    render();
  });

  async function logout() {
    if (session.access || session.refresh) {
      try { await api("DELETE", "/v1/sessions/current"); } catch (e) { /* the session ends here either way */ }
    }
    endSession();
    flash = t("loggedOut");
    go("masuk");
  }

  var ROUTES = {};
  var PUBLIC = {masuk: true, aktivasi: true};
  var KNOWN = {masuk: true, aktivasi: true, beranda: true, kartu: true, iuran: true, faskes: true,
               "ambil-antrean": true, "antrean-saya": true};
  /** The pages after log-in (views.js): fetched once the first page can take input, so they stay
      out of the log-in page's first load. */
  var viewsLoading = null;
  function loadViews() {
    if (!viewsLoading) {
      viewsLoading = new Promise(function (resolve, reject) {
        var script = h("script", {src: "/portal/views.js?v=" + VERSION});
        script.onload = function () { resolve(); };
        script.onerror = function () {
          viewsLoading = null;
          reject(new ApiError(0, {title: t("offline"), detail: t("offlineDetail"), code: "OFFLINE"}));
        };
        document.head.appendChild(script);
      });
    }
    return viewsLoading;
  }
  function parseRoute() {
    var raw = location.hash.replace(/^#\/?/, "");
    var cut = raw.indexOf("?");
    return {name: cut < 0 ? raw : raw.slice(0, cut), params: new URLSearchParams(cut < 0 ? "" : raw.slice(cut + 1))};
  }
  function go(name, params) {
    var hash = "#/" + name + (params ? "?" + new URLSearchParams(params).toString() : "");
    if (location.hash === hash) render(); else location.hash = hash;
  }
  function every(ms, fn) { timers.push(setInterval(fn, ms)); }

  var renders = 0;
  async function render() {
    timers.forEach(clearInterval);
    timers = [];
    var route = parseRoute();
    if (!KNOWN[route.name]) route.name = loggedIn() ? "beranda" : "masuk";
    var offlineCard = route.name === "kartu" && navigator.onLine === false && readJson("jkn.card");
    if (!PUBLIC[route.name] && !loggedIn() && !offlineCard) route.name = "masuk";
    if (route.name === "masuk" && loggedIn()) route.name = "beranda";
    var wanted = "#/" + route.name;
    if (location.hash.split("?")[0] !== wanted) history.replaceState(null, "", wanted);
    var mine = ++renders;
    chrome(route.name);
    var view = h("div", {class: "view"});
    main.textContent = "";
    main.appendChild(view);
    var message = flash;
    flash = null;
    if (message) view.appendChild(notice(message));
    try {
      if (!ROUTES[route.name]) await loadViews();
      await ROUTES[route.name](view, route.params, function () { return mine === renders; });
    } catch (error) {
      if (mine !== renders) return;
      if (error instanceof ApiError && error.status === 401 && !PUBLIC[route.name]) {
        endSession();
        flash = t("expired");
        go("masuk");
        return;
      }
      var box = alertBox();
      view.appendChild(box.el);
      box.show(error instanceof ApiError ? error.problem : {title: t("unexpected"), detail: t("unexpectedDetail")});
      if (!(error instanceof ApiError)) throw error;
    }
    var heading = view.querySelector("h1");
    document.title = (heading ? heading.textContent + " · " : "") + "JKN";
  }
  window.addEventListener("hashchange", function () {
    render().then(function () { main.focus({preventScroll: false}); });
  });

  // -- log in ----------------------------------------------------------------------------------------
  ROUTES.masuk = async function (view) {
    var identifier = field("identifier", t("identifier"), {autocomplete: "username", required: true,
                                                             autocapitalize: "none", spellcheck: "false"});
    var password = field("password", t("password"), {type: "password", autocomplete: "current-password", required: true});
    var captchaId = null;
    var captchaImage = h("img", {alt: t("captchaAlt"), width: "200", height: "70"});
    var captchaAnswer = field("captcha_answer", t("captchaLabel"), {autocomplete: "off", autocapitalize: "characters"});
    var captchaBlock = h("div", {class: "captcha", hidden: true}, [captchaImage, captchaAnswer.wrap,
      h("button", {type: "button", class: "link-button", text: t("captchaNew"), onclick: loadCaptcha})]);
    var rememberId = uid("remember");
    var rememberHintId = rememberId + "-hint";
    var remember = h("input", {type: "checkbox", role: "switch", id: rememberId, checked: remembering(),
                               "aria-describedby": rememberHintId});
    var box = alertBox();
    var submit = h("button", {type: "submit", class: "primary", text: t("login")});
    var saved = remembering() ? savedAccounts() : [];
    identifier.input.value = prefill || (saved[0] ? saved[0].identifier : "");
    prefill = "";

    async function loadCaptcha() {
      var fresh = await request("GET", "/v1/captcha");
      captchaId = fresh.captcha_id;
      captchaImage.src = fresh.image;
      captchaAnswer.input.value = "";
      captchaBlock.hidden = false;
    }
    var form = h("form", {novalidate: true, onsubmit: async function (event) {
      event.preventDefault();
      box.clear();
      clearErrors([identifier, password, captchaAnswer]);
      if (!requireFilled([identifier, password])) return;
      var payload = {identifier: identifier.input.value.trim(), password: password.input.value};
      if (captchaId) { payload.captcha_id = captchaId; payload.captcha_answer = captchaAnswer.input.value.trim(); }
      busy(submit, true);
      try {
        setTokens(await request("POST", "/v1/sessions", payload));
        local.drop("jkn.card");  // the card kept for offline use is the account's who logs in
        local.set("jkn.remember", remember.checked ? "1" : "0");
        if (remember.checked) {
          var me = null;
          try { me = await api("GET", "/v1/me"); } catch (e) { me = null; }
          saveAccount(payload.identifier, me && me.name);
        } else {
          local.drop("jkn.accounts");
        }
        go("beranda");
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        var problem = error.problem;
        box.show(problem);
        if (problem.code === "VALIDATION_ERROR") showFieldErrors(problem, [identifier, password]);
        captchaId = null;
        if (problem.code === "CAPTCHA_REQUIRED" || problem.code === "CAPTCHA_INVALID" || !captchaBlock.hidden) {
          try { await loadCaptcha(); } catch (e) { captchaBlock.hidden = true; }
          if (!captchaBlock.hidden) captchaAnswer.input.focus();
        } else {
          password.input.select();
        }
      } finally {
        busy(submit, false);
      }
    }}, [identifier.wrap, password.wrap, captchaBlock,
         h("div", {class: "check"}, [remember, h("div", {}, [h("label", {for: rememberId, text: t("remember")}),
           h("span", {id: rememberHintId, class: "hint", text: t("rememberHint")})])]),
         box.el, submit]);

    var savedList = saved.length ? h("section", {class: "panel"}, [
      h("h2", {text: t("savedAccounts")}),
      h("ul", {class: "saved"}, saved.map(function (account) {
        var label = (account.name || masked(account.identifier));
        return h("li", {}, [
          h("button", {type: "button", class: "secondary", "aria-label": t("useAccount", {name: label}),
                       onclick: function () { identifier.input.value = account.identifier; password.input.value = "";
                                              password.input.focus(); }},
            [account.name ? h("span", {text: account.name + " "}) : null, h("span", {class: "muted", text: masked(account.identifier)})]),
          h("button", {type: "button", class: "link-button", text: t("forget"), "aria-label": t("forgetAccount", {name: label}),
                       onclick: function () { forgetAccount(account.identifier); render(); }})
        ]);
      }))
    ]) : null;

    append(view, [h("h1", {text: t("loginTitle")}), savedList, h("div", {class: "panel"}, form),
                  h("p", {}, [t("noAccount") + " ", h("a", {href: "#/aktivasi", text: t("activateLink")})])]);
  };

  // -- activate an account ----------------------------------------------------------------------------
  ROUTES.aktivasi = async function (view, params, current) {
    var identifier = field("identifier", t("regIdentifier"), {inputmode: "numeric", autocomplete: "off", required: true,
                                                                maxlength: "16"});
    var birth = field("birth_date", t("birthDate"), {type: "date", required: true, max: jakartaDate(0)});
    var phone = field("phone", t("phone"), {type: "tel", autocomplete: "tel", inputmode: "tel", required: true}, t("phoneHint"));
    var email = field("email", t("email"), {type: "email", autocomplete: "email", required: true}, t("emailHint"));
    var password = field("password", t("password"), {type: "password", autocomplete: "new-password", required: true},
                         t("passwordHint"));
    var fields = [identifier, birth, phone, email, password];
    var captchaId = null;
    var captchaImage = h("img", {alt: t("captchaAlt"), width: "200", height: "70"});
    var captchaAnswer = field("captcha_answer", t("captchaLabel"), {autocomplete: "off"});
    var captchaBlock = h("div", {class: "captcha", hidden: true}, [captchaImage, captchaAnswer.wrap]);
    var box = alertBox();
    var submit = h("button", {type: "submit", class: "primary", text: t("sendCode")});
    async function loadCaptcha() {
      var fresh = await request("GET", "/v1/captcha");
      captchaId = fresh.captcha_id;
      captchaImage.src = fresh.image;
      captchaAnswer.input.value = "";
      captchaBlock.hidden = false;
    }
    var form = h("form", {novalidate: true, onsubmit: async function (event) {
      event.preventDefault();
      box.clear();
      clearErrors(fields.concat([captchaAnswer]));
      if (!requireFilled(fields)) return;
      var payload = {identifier: identifier.input.value.trim(), birth_date: birth.input.value,
                     phone: phone.input.value.trim(), email: email.input.value.trim(), password: password.input.value};
      if (captchaId) { payload.captcha_id = captchaId; payload.captcha_answer = captchaAnswer.input.value.trim(); }
      busy(submit, true);
      try {
        var started = await request("POST", "/v1/registrations", payload);
        if (current()) codeStep(view, started, payload.identifier);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        var problem = error.problem;
        box.show(problem);
        captchaId = null;
        if (problem.code === "VALIDATION_ERROR") showFieldErrors(problem, fields);
        if (problem.code === "WEAK_PASSWORD") { setError(password, problem.detail || problem.title); password.input.focus(); }
        if (problem.code === "EMAIL_IN_USE") { setError(email, problem.title); email.input.focus(); }
        if (problem.code === "CAPTCHA_REQUIRED" || problem.code === "CAPTCHA_INVALID" || !captchaBlock.hidden) {
          try { await loadCaptcha(); captchaAnswer.input.focus(); } catch (e) { captchaBlock.hidden = true; }
        }
      } finally {
        busy(submit, false);
      }
    }}, [identifier.wrap, birth.wrap, phone.wrap, email.wrap, password.wrap, captchaBlock, box.el, submit]);
    append(view, [h("h1", {text: t("activateTitle")}), h("p", {text: t("activateIntro")}), h("div", {class: "panel"}, form),
                  h("p", {}, h("a", {href: "#/masuk", text: t("login")}))]);
  };

  function codeStep(view, started, identifierValue) {
    var regId = started.registration_id;
    var code = field("code", t("code"), {inputmode: "numeric", autocomplete: "one-time-code", maxlength: "6",
                                          pattern: "[0-9]{6}", required: true});
    var box = alertBox();
    var info = h("p", {role: "status", text: t("codeSent", {to: started.otp.destination_masked,
                                                               min: Math.round(started.otp.expires_in / 60)})});
    var delivery = h("p", {class: "muted", "aria-live": "polite"});
    var countdown = h("p", {class: "hint"});
    var submit = h("button", {type: "submit", class: "primary", text: t("activate")});
    var resend = h("button", {type: "button", class: "secondary", text: t("resend")});
    var byEmail = h("button", {type: "button", class: "secondary", text: t("byEmail"), hidden: true});
    var until = Date.now() + (started.otp.resend_after || 60) * 1000;
    function tick() {
      var left = Math.ceil((until - Date.now()) / 1000);
      resend.disabled = left > 0;
      countdown.textContent = left > 0 ? t("resendIn", {s: left}) : "";
    }
    function showOtp(otp) {
      if (!otp) return;
      if (otp.delivery_status) delivery.textContent = t("delivery", {s: t(otp.delivery_status)});
      var channels = otp.channels_available || [];
      byEmail.hidden = channels.indexOf("email") < 0;
    }
    async function again(channel) {
      box.clear();
      try {
        var reply = await request("POST", "/v1/registrations/" + encodeURIComponent(regId) + "/otp/resend",
                                  channel ? {channel: channel} : undefined);
        until = Date.now() + (reply.resend_after || 60) * 1000;
        info.textContent = channel === "email" ? t("sentByEmail") : t("resent");
        tick();
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        box.show(error.problem);
        if (error.problem.retry_after) { until = Date.now() + error.problem.retry_after * 1000; tick(); }
      }
    }
    resend.addEventListener("click", function () { again(null); });
    byEmail.addEventListener("click", function () { again("email"); });
    showOtp(started.otp);
    tick();
    every(1000, tick);
    if (has("registration-status")) {
      var polls = 0;
      every(5000, async function () {
        polls += 1;
        if (polls > 24) return;
        try { showOtp((await request("GET", "/v1/registrations/" + encodeURIComponent(regId))).otp); } catch (e) { /* later */ }
      });
    }
    var restart = h("button", {type: "button", class: "link-button", text: t("startOver"), hidden: true,
                               onclick: function () { render(); }});
    var form = h("form", {novalidate: true, onsubmit: async function (event) {
      event.preventDefault();
      box.clear();
      setError(code, "");
      if (!/^[0-9]{6}$/.test(code.input.value.trim())) { setError(code, t("badFormat")); code.input.focus(); return; }
      busy(submit, true);
      try {
        await request("POST", "/v1/registrations/" + encodeURIComponent(regId) + "/verify", {code: code.input.value.trim()});
        flash = t("activated");
        prefill = identifierValue;
        go("masuk");
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        box.show(error.problem);
        if (error.problem.code === "OTP_INVALID") { setError(code, error.problem.title); code.input.select(); }
        if (error.problem.code === "OTP_EXPIRED" || error.problem.code === "OTP_ATTEMPTS_EXCEEDED" ||
            error.problem.code === "NOT_FOUND") { restart.hidden = false; }
      } finally {
        busy(submit, false);
      }
    }}, [code.wrap, box.el, submit]);
    view.textContent = "";
    append(view, [h("h1", {text: t("activateTitle")}), info, delivery,
                  h("div", {class: "panel"}, [form, h("div", {class: "actions"}, [resend, byEmail]), countdown, restart])]);
    code.input.focus();
  }


  // -- what views.js uses ----------------------------------------------------------------------------------
  window.JKN = {
    ApiError: ApiError, ROUTES: ROUTES, TEXT: TEXT, VERSION: VERSION, alertBox: alertBox, api: api, append: append,
    busy: busy, clearErrors: clearErrors, dateText: dateText, every: every, field: field, h: h, has: has,
    instantText: instantText, jakartaDate: jakartaDate, local: local, locale: locale, monthText: monthText,
    newKey: newKey, notice: notice, readJson: readJson, render: render, request: request, requireFilled: requireFilled,
    rupiah: rupiah, setError: setError, showFieldErrors: showFieldErrors, t: t, timeText: timeText, uid: uid,
    loggedIn: loggedIn, setFlash: function (message) { flash = message; },
    words: function (more) { ["id", "en"].forEach(function (l) { Object.assign(TEXT[l], more[l]); }); }
  };

  // -- start ---------------------------------------------------------------------------------------------------
  if ("serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/sw.js", {scope: "/"}).catch(function () { /* the portal works without it */ });
    });
  }
  render().then(function () {
    if (window.performance && performance.mark) performance.mark("jkn-interactive");  // the first view takes input
    setTimeout(function () { loadViews().catch(function () { /* fetched again when needed */ }); }, 0);
  });
})();
