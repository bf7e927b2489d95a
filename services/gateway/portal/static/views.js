/* The portal's pages after log-in (CONTRACT.md §9): home with the family's cover, the card and its QR,
   bills and payment, facilities nearest first, taking a queue number, and "my bookings" with the live
   position. Loaded by app.js once the first page takes input; it uses app.js's kit (window.JKN). */
"use strict";
(function (J) {
  var ApiError = J.ApiError, ROUTES = J.ROUTES, VERSION = J.VERSION, alertBox = J.alertBox, api = J.api,
      append = J.append, busy = J.busy, clearErrors = J.clearErrors, dateText = J.dateText, every = J.every,
      field = J.field, h = J.h, has = J.has, instantText = J.instantText, jakartaDate = J.jakartaDate, local = J.local,
      locale = J.locale, monthText = J.monthText, newKey = J.newKey, notice = J.notice, readJson = J.readJson,
      render = J.render, request = J.request, requireFilled = J.requireFilled, rupiah = J.rupiah, setError = J.setError,
      showFieldErrors = J.showFieldErrors, t = J.t, timeText = J.timeText, uid = J.uid;

  J.words({
    id: {
      hello: "Halo, {name}", allCovered: "Semua Keluarga Anda Terlindungi",
      notAllCovered: "Belum semua anggota keluarga Anda terlindungi", family: "Keluarga", active: "Aktif",
      inactive: "Tidak Aktif", yourFktp: "Faskes tingkat pertama", payArrears: "Bayar tunggakan",
      classN: "Kelas {n}", HEAD: "Kepala keluarga", SPOUSE: "Suami/istri", CHILD: "Anak", OTHER: "Anggota",
      TUNGGAKAN_IURAN: "Tunggakan iuran", PENANGGUHAN: "Penangguhan", MENUNGGU_PEMBAYARAN: "Menunggu pembayaran iuran pertama",
      MENINGGAL: "Meninggal dunia",
      cardTitle: "Kartu JKN", cardNoka: "Nomor kartu (NOKA)", cardName: "Nama", cardBirth: "Tanggal lahir",
      cardClass: "Kelas", cardSegment: "Segmen", cardFktp: "Faskes tingkat pertama", cardQr: "Kode QR kartu JKN",
      cardValid: "QR berlaku sampai {date}.", cardOffline: "Anda sedang offline. Kartu ini disimpan pada {date}.",
      PBI_APBN: "PBI APBN", PBI_APBD: "PBI APBD", PPU: "Pekerja penerima upah", PBPU: "Pekerja bukan penerima upah",
      BP: "Bukan pekerja",
      billsTitle: "Iuran", arrears: "Tunggakan", noArrears: "Tidak ada tunggakan. Terima kasih!",
      period: "Bulan", amount: "Jumlah", status: "Status", due: "Jatuh tempo", UNPAID: "Belum dibayar", PAID: "Lunas",
      paidMonths: "Sudah lunas ({n} bulan)", payFor: "Bayar {period}", payAll: "Bayar semua tagihan", paySelected: "Bayar bulan terpilih",
      paymentTitle: "Pembayaran", va: "Nomor virtual account", payAmount: "Jumlah dibayar",
      payUntil: "Bayar sebelum", payHow: "Bayar lewat bank, ATM atau aplikasi bank Anda ke nomor virtual account ini.",
      facilitiesTitle: "Fasilitas kesehatan terdekat", useLocation: "Gunakan lokasi saya",
      place: "Nama fasilitas atau kota", placeHint: "Contoh: Bandung, Menteng, Puskesmas", kind: "Jenis",
      anyKind: "Semua", FKTP: "FKTP (klinik, puskesmas)", FKRTL: "FKRTL (rumah sakit)", search: "Cari",
      nearestTo: "Terdekat dari {place}", nearestYou: "Terdekat dari lokasi Anda", byName: "Hasil pencarian “{q}”",
      noFacilities: "Tidak ada fasilitas yang cocok.", locating: "Mencari lokasi Anda…",
      noLocation: "Lokasi tidak dapat dipakai. Ketik nama fasilitas atau kota.", km: "{d} km",
      queueHere: "Antre di sini", queueAt: "Antre di {name}",
      bookTitle: "Ambil nomor antrean", rescheduleTitle: "Ubah jadwal antrean", patient: "Untuk siapa",
      facility: "Fasilitas kesehatan", visitDate: "Tanggal periksa", sessions: "Poli dan dokter",
      noSessions: "Tidak ada jadwal dokter pada tanggal ini.", seatsLeft: "sisa {n} kuota", full: "penuh",
      referral: "Nomor rujukan", referralHint: "19 karakter, dari faskes tingkat pertama Anda (wajib untuk rumah sakit).",
      takeNumber: "Ambil nomor antrean", moveHere: "Pindah ke jadwal ini", chooseSession: "Pilih poli dan dokter.",
      booked: "Nomor antrean Anda", bookingCode: "Kode booking", estimate: "Perkiraan dilayani",
      seeStatus: "Lihat status antrean", joinWaitlist: "Masuk daftar tunggu",
      waitlisted: "Anda di daftar tunggu, urutan ke-{n}. Kami kirim SMS bila ada kursi.",
      bookingsTitle: "Antrean saya", noBookings: "Belum ada antrean.", takeOne: "Ambil nomor antrean",
      nowServing: "Sedang dilayani: {n}", ahead: "Di depan Anda: {n}", updated: "Diperbarui {time}",
      BOOKED: "Terdaftar", CHECKED_IN: "Sudah check-in", SERVING: "Sedang dilayani", DONE: "Selesai",
      CANCELLED: "Dibatalkan", NO_SHOW: "Tidak hadir", WAITING: "Menunggu", OFFERED: "Ditawari kursi",
      cancel: "Batalkan antrean", cancelReason: "Alasan pembatalan", confirmCancel: "Ya, batalkan", keep: "Tidak jadi",
      reasonAbsent: "Berhalangan hadir", reasonWell: "Sudah sembuh", reasonWrong: "Salah pilih jadwal", reasonOther: "Lainnya",
      cancelled: "Antrean dibatalkan.", reschedule: "Ubah jadwal", rescheduled: "Jadwal diubah.",
      queueNumber: "Nomor antrean", noShowHint: "", doctorAbsent: "Dokter berhalangan: pilih jadwal lain.",
      waitlistTitle: "Daftar tunggu", leaveWaitlist: "Keluar dari daftar tunggu", accept: "Ambil kursi ini",
      position: "Urutan ke-{n}", offerUntil: "Ambil sebelum"
    },
    en: {
      hello: "Hello, {name}", allCovered: "Your whole family is covered",
      notAllCovered: "Not every member of your family is covered", family: "Family", active: "Active",
      inactive: "Inactive", yourFktp: "Primary care facility", payArrears: "Pay the arrears",
      classN: "Class {n}", HEAD: "Head of family", SPOUSE: "Spouse", CHILD: "Child", OTHER: "Member",
      TUNGGAKAN_IURAN: "Unpaid premiums", PENANGGUHAN: "Suspended", MENUNGGU_PEMBAYARAN: "Awaiting the first payment",
      MENINGGAL: "Deceased",
      cardTitle: "JKN card", cardNoka: "Card number (NOKA)", cardName: "Name", cardBirth: "Date of birth",
      cardClass: "Class", cardSegment: "Segment", cardFktp: "Primary care facility", cardQr: "QR code of the JKN card",
      cardValid: "QR valid until {date}.", cardOffline: "You are offline. This card was saved on {date}.",
      PBI_APBN: "PBI APBN", PBI_APBD: "PBI APBD", PPU: "Wage earner", PBPU: "Non-wage earner", BP: "Non-worker",
      billsTitle: "Premiums", arrears: "Arrears", noArrears: "Nothing is owed. Thank you!",
      period: "Month", amount: "Amount", status: "Status", due: "Due", UNPAID: "Unpaid", PAID: "Paid",
      paidMonths: "Paid ({n} months)", payFor: "Pay {period}", payAll: "Pay every unpaid bill", paySelected: "Pay the chosen months",
      paymentTitle: "Payment", va: "Virtual account number", payAmount: "Amount to pay",
      payUntil: "Pay before", payHow: "Pay at a bank, an ATM or in your banking app to this virtual account.",
      facilitiesTitle: "Nearest health facilities", useLocation: "Use my location",
      place: "Facility name or town", placeHint: "For example: Bandung, Menteng, Puskesmas", kind: "Type",
      anyKind: "All", FKTP: "FKTP (clinic, puskesmas)", FKRTL: "FKRTL (hospital)", search: "Search",
      nearestTo: "Nearest to {place}", nearestYou: "Nearest to you", byName: "Results for “{q}”",
      noFacilities: "No facility matches.", locating: "Finding your location…",
      noLocation: "Your location cannot be used. Type a facility name or a town.", km: "{d} km",
      queueHere: "Queue here", queueAt: "Queue at {name}",
      bookTitle: "Take a queue number", rescheduleTitle: "Move a booking", patient: "For whom",
      facility: "Health facility", visitDate: "Visit date", sessions: "Clinic and doctor",
      noSessions: "No doctor's session on this date.", seatsLeft: "{n} seats left", full: "full",
      referral: "Referral number", referralHint: "19 characters, from your primary care facility (needed for a hospital).",
      takeNumber: "Take a queue number", moveHere: "Move to this session", chooseSession: "Choose a clinic and doctor.",
      booked: "Your queue number", bookingCode: "Booking code", estimate: "Estimated service",
      seeStatus: "See the queue status", joinWaitlist: "Join the waiting list",
      waitlisted: "You are on the waiting list, number {n}. We send an SMS when a seat frees up.",
      bookingsTitle: "My bookings", noBookings: "No bookings yet.", takeOne: "Take a queue number",
      nowServing: "Now serving: {n}", ahead: "Ahead of you: {n}", updated: "Updated {time}",
      BOOKED: "Booked", CHECKED_IN: "Checked in", SERVING: "Being served", DONE: "Done",
      CANCELLED: "Cancelled", NO_SHOW: "Did not come", WAITING: "Waiting", OFFERED: "Seat offered",
      cancel: "Cancel booking", cancelReason: "Reason", confirmCancel: "Yes, cancel", keep: "Keep it",
      reasonAbsent: "Cannot come", reasonWell: "Feeling better", reasonWrong: "Wrong session", reasonOther: "Other",
      cancelled: "The booking was cancelled.", reschedule: "Move", rescheduled: "The booking was moved.",
      queueNumber: "Queue number", noShowHint: "", doctorAbsent: "The doctor is absent: choose another session.",
      waitlistTitle: "Waiting list", leaveWaitlist: "Leave the waiting list", accept: "Take this seat",
      position: "Number {n}", offerUntil: "Take it before"
    }
  });

  // -- home -----------------------------------------------------------------------------------------------
  function memberItem(member) {
    var ok = member.status === "AKTIF";
    return h("li", {}, [
      h("strong", {text: member.name}), " ",
      h("span", {class: "muted", text: t(member.relation || "OTHER")}), h("br"),
      ok ? h("span", {class: "badge ok", text: t("active")})
        : h("span", {class: "badge bad", text: t("inactive") + (member.status_reason ? " — " + t(member.status_reason) : "")})
    ]);
  }
  ROUTES.beranda = async function (view) {
    var answers = await Promise.all([api("GET", "/v1/me"), api("GET", "/v1/me/membership")]);
    var me = answers[0], membership = answers[1];
    var family = membership.family && membership.family.length ? membership.family : [membership.participant];
    var inactive = family.filter(function (m) { return m.status !== "AKTIF"; });
    var arrears = inactive.some(function (m) { return m.status_reason === "TUNGGAKAN_IURAN"; });
    var p = membership.participant;
    append(view, [
      h("h1", {text: t("hello", {name: me.name})}),
      h("section", {class: "panel", "aria-labelledby": "cover"}, [
        membership.all_family_active ? h("p", {id: "cover", class: "covered", text: t("allCovered")})
          : h("h2", {id: "cover", class: "uncovered", text: t("notAllCovered")}),
        h("ul", {class: "members", "aria-label": t("family")}, family.map(memberItem)),
        arrears ? h("p", {}, h("a", {href: "#/iuran", text: t("payArrears")})) : null
      ]),
      h("section", {class: "panel"}, h("dl", {class: "facts"}, [
        h("dt", {text: t("yourFktp")}), h("dd", {text: p.fktp ? p.fktp.name : "—"}),
        h("dt", {text: t("cardClass")}), h("dd", {text: t("classN", {n: p["class"]})}),
        h("dt", {text: t("cardSegment")}), h("dd", {text: t(p.segment)})
      ]))
    ]);
  };

  // -- card -----------------------------------------------------------------------------------------------
  var qrLoading = null;
  function loadQr() {
    if (window.qrcode) return Promise.resolve(window.qrcode);
    if (!qrLoading) {
      qrLoading = new Promise(function (resolve, reject) {
        var script = h("script", {src: "/portal/qrcode.js?v=" + VERSION});
        script.onload = function () { resolve(window.qrcode); };
        script.onerror = function () { qrLoading = null; reject(new Error("qr")); };
        document.head.appendChild(script);
      });
    }
    return qrLoading;
  }
  function qrSvg(make, payload) {
    var qr = make(0, "M");
    qr.addData(payload);
    qr.make();
    var n = qr.getModuleCount(), margin = 2, d = [];
    for (var r = 0; r < n; r++) {
      for (var c = 0; c < n; c++) if (qr.isDark(r, c)) d.push("M" + (c + margin) + " " + (r + margin) + "h1v1h-1z");
    }
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 " + (n + 2 * margin) + " " + (n + 2 * margin));
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", t("cardQr"));
    svg.setAttribute("shape-rendering", "crispEdges");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", d.join(""));
    path.setAttribute("fill", "#000");
    svg.appendChild(path);
    return svg;
  }
  ROUTES.kartu = async function (view, params, current) {
    var card = null, kept = readJson("jkn.card");
    if (J.loggedIn() || navigator.onLine !== false) {
      try {
        card = await api("GET", "/v1/me/card");
        local.set("jkn.card", JSON.stringify({card: card, saved_at: new Date().toISOString()}));
      } catch (error) {
        if (!(error instanceof ApiError) || error.status !== 0 || !kept) throw error;
      }
    }
    // offline (a reload, a new tab, the installed app opened without a network): the card kept at the last visit
    var offlineSince = card ? null : kept.saved_at;
    if (!card) card = kept.card;
    var qrBox = h("div", {class: "qr"});
    append(view, [
      h("h1", {text: t("cardTitle")}),
      offlineSince ? notice(t("cardOffline", {date: instantText(offlineSince)})) : null,
      h("section", {class: "card", "aria-label": t("cardTitle")}, [
        h("h2", {text: card.name}),
        h("dl", {class: "facts"}, [
          h("dt", {text: t("cardNoka")}), h("dd", {class: "noka", text: card.noka}),
          h("dt", {text: t("cardBirth")}), h("dd", {text: dateText(card.birth_date)}),
          h("dt", {text: t("cardClass")}), h("dd", {text: t("classN", {n: card["class"]})}),
          h("dt", {text: t("cardSegment")}), h("dd", {text: t(card.segment)}),
          h("dt", {text: t("cardFktp")}), h("dd", {text: card.fktp ? card.fktp.name + " (" + card.fktp.code + ")" : "—"})
        ]),
        qrBox
      ]),
      card.expires_at ? h("p", {class: "muted", text: t("cardValid", {date: instantText(card.expires_at)})}) : null
    ]);
    var make = await loadQr();
    if (current()) qrBox.appendChild(qrSvg(make, card.qr_payload));
  };

  // -- bills and payment --------------------------------------------------------------------------------------
  ROUTES.iuran = async function (view) {
    var data = await api("GET", "/v1/me/bills");
    var unpaid = data.bills.filter(function (b) { return b.status === "UNPAID"; });
    var box = alertBox();
    var result = h("div", {"aria-live": "polite"});
    var checks = [];
    var paid = data.bills.filter(function (b) { return b.status !== "UNPAID"; });
    function table(bills, rows) {
      return h("div", {class: "table-wrap"}, h("table", {}, [
        h("thead", {}, h("tr", {}, [h("th", {}, h("span", {class: "sr-only", text: t("payAll").split(" ")[0]})),
          h("th", {text: t("period")}), h("th", {text: t("amount")}), h("th", {text: t("status")})])),
        h("tbody", {}, rows(bills))]));
    }
    var rows = function (bills) { return bills.map(function (bill) {
      var check = null;
      if (bill.status === "UNPAID") {
        check = h("input", {type: "checkbox", value: bill.period, "aria-label": t("payFor", {period: monthText(bill.period)})});
        checks.push(check);
      }
      return h("tr", {}, [h("td", {}, check),
        h("td", {}, [monthText(bill.period), bill.due_date ? h("span", {class: "hint", text: t("due") + " " + dateText(bill.due_date)}) : null]),
        h("td", {text: rupiah(bill.amount)}), h("td", {text: t(bill.status)})]);
    }); };
    async function pay(button, periods) {
      box.clear();
      busy(button, true);
      try {
        var payment = await api("POST", "/v1/me/payments", {periods: periods});
        result.textContent = "";
        append(result, h("section", {class: "panel"}, [
          h("h2", {text: t("paymentTitle")}),
          h("dl", {class: "facts"}, [
            h("dt", {text: t("va")}), h("dd", {class: "va", text: payment.virtual_account}),
            h("dt", {text: t("payAmount")}), h("dd", {text: rupiah(payment.amount)}),
            h("dt", {text: t("payUntil")}), h("dd", {text: instantText(payment.expires_at)})
          ]),
          h("p", {class: "hint", text: t("payHow")})
        ]));
        var heading = result.querySelector("h2");
        heading.setAttribute("tabindex", "-1");
        heading.focus();
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        box.show(error.problem);
      } finally {
        busy(button, false);
      }
    }
    var payAll = h("button", {type: "button", class: "primary", text: t("payAll"),
                              onclick: function () { pay(payAll, []); }});
    var paySome = h("button", {type: "button", class: "secondary", text: t("paySelected"), onclick: function () {
      var chosen = checks.filter(function (c) { return c.checked; }).map(function (c) { return c.value; });
      if (chosen.length) pay(paySome, chosen); else box.text(t("paySelected") + ": " + t("required"));
    }});
    append(view, [
      h("h1", {text: t("billsTitle")}),
      h("section", {class: "panel"}, [
        h("p", {class: "label", text: t("arrears")}), h("p", {class: "big", text: rupiah(data.arrears_total)}),
        unpaid.length ? null : h("p", {text: t("noArrears")})
      ]),
      unpaid.length ? h("div", {class: "panel"}, table(unpaid, rows)) : null,
      box.el,
      unpaid.length ? h("div", {class: "actions"}, [payAll, paySome]) : null,
      result,
      paid.length ? h("details", {class: "panel"}, [h("summary", {text: t("paidMonths", {n: paid.length})}), table(paid, rows)]) : null
    ]);
  };

  // -- facilities nearest first -----------------------------------------------------------------------------------
  /** Towns a typed place may name (lat, lon), for "nearest to Bandung" without a geocoding service. */
  var PLACES = {
    "jakarta": [-6.1862, 106.8341], "jakarta pusat": [-6.1862, 106.8341], "menteng": [-6.1957, 106.8312],
    "tanah abang": [-6.2031, 106.8133], "cikini": [-6.1862, 106.8396], "jakarta selatan": [-6.2615, 106.8106],
    "jakarta timur": [-6.225, 106.9004], "jakarta barat": [-6.1674, 106.7637], "jakarta utara": [-6.1384, 106.8636],
    "bandung": [-6.9175, 107.6191], "bogor": [-6.5971, 106.806], "depok": [-6.4025, 106.7942],
    "bekasi": [-6.2383, 106.9756], "tangerang": [-6.1783, 106.6319], "surabaya": [-7.2575, 112.7521],
    "semarang": [-6.9667, 110.4167], "yogyakarta": [-7.7956, 110.3695], "medan": [3.5952, 98.6722],
    "makassar": [-5.1477, 119.4327], "denpasar": [-8.6705, 115.2126], "palembang": [-2.9761, 104.7754]
  };
  ROUTES.faskes = async function (view, params, current) {
    var place = field("place", t("place"), {type: "search", autocomplete: "off"}, t("placeHint"));
    var kind = field("type", t("kind"), {tag: "select"});
    [["", t("anyKind")], ["FKTP", t("FKTP")], ["FKRTL", t("FKRTL")]].forEach(function (o) {
      kind.input.appendChild(h("option", {value: o[0], text: o[1]}));
    });
    var box = alertBox();
    var caption = h("h2", {"aria-live": "polite"});
    var results = h("ul", {class: "list"});
    var locate = h("button", {type: "button", class: "secondary", text: t("useLocation")});

    async function show(query, heading) {
      box.clear();
      if (kind.input.value) query.type = kind.input.value;
      var data = await request("GET", "/v1/facilities?" + new URLSearchParams(query).toString());
      if (!current()) return;
      caption.textContent = heading;
      results.textContent = "";
      if (!data.items.length) results.appendChild(h("li", {text: t("noFacilities")}));
      data.items.forEach(function (f) {
        results.appendChild(h("li", {}, [
          h("h3", {text: f.name}),
          h("p", {class: "muted", text: t(f.type) + (f.distance_km !== null && f.distance_km !== undefined
            ? " · " + t("km", {d: f.distance_km.toLocaleString(locale())}) : "")}),
          h("p", {text: f.address}),
          h("a", {href: "#/ambil-antrean?" + new URLSearchParams({fasilitas: f.code}).toString(), text: t("queueHere"),
                  "aria-label": t("queueAt", {name: f.name})})
        ]));
      });
    }
    function guarded(promise) {
      return promise.catch(function (error) {
        if (!(error instanceof ApiError)) throw error;
        box.show(error.problem);
      });
    }
    locate.addEventListener("click", function () {
      box.clear();
      if (!navigator.geolocation) { box.text(t("noLocation")); return; }
      caption.textContent = t("locating");
      navigator.geolocation.getCurrentPosition(function (position) {
        guarded(show({lat: position.coords.latitude.toFixed(5), lon: position.coords.longitude.toFixed(5)}, t("nearestYou")));
      }, function () { caption.textContent = ""; box.text(t("noLocation")); }, {timeout: 10000, maximumAge: 300000});
    });
    var form = h("form", {role: "search", novalidate: true, onsubmit: function (event) {
      event.preventDefault();
      setError(place, "");
      var typed = place.input.value.trim();
      if (!typed) { setError(place, t("required")); place.input.focus(); return; }
      var spot = PLACES[typed.toLowerCase()];
      guarded(spot ? show({lat: spot[0], lon: spot[1], radius_km: 50}, t("nearestTo", {place: typed}))
        : show({q: typed}, t("byName", {q: typed})));
    }}, [place.wrap, kind.wrap, h("div", {class: "actions"}, [h("button", {type: "submit", class: "primary", text: t("search")})])]);
    append(view, [h("h1", {text: t("facilitiesTitle")}), h("div", {class: "panel"}, [locate, h("p"), form]), box.el,
                  caption, results]);
  };

  // -- take a queue number (and move one, where the API can) ---------------------------------------------------------
  ROUTES["ambil-antrean"] = async function (view, params, current) {
    var moving = has("reschedule") ? params.get("ubah") : null;
    var answers = await Promise.all([api("GET", "/v1/me/membership"), request("GET", "/v1/facilities")]);
    var membership = answers[0], facilities = answers[1].items;
    var family = membership.family && membership.family.length ? membership.family : [membership.participant];
    var who = field("noka", t("patient"), {tag: "select"});
    family.forEach(function (m) {
      who.input.appendChild(h("option", {value: m.noka, disabled: m.status !== "AKTIF",
        text: m.name + (m.status !== "AKTIF" ? " (" + t(m.status_reason || "inactive") + ")" : "")}));
    });
    var facility = field("facility", t("facility"), {tag: "select"});
    facilities.forEach(function (f) { facility.input.appendChild(h("option", {value: f.code, text: f.name})); });
    facility.input.value = params.get("fasilitas") || (membership.participant.fktp || {}).code || facilities[0].code;
    if (!facility.input.value && facilities.length) facility.input.value = facilities[0].code;
    var day = field("date", t("visitDate"), {type: "date", min: jakartaDate(0), max: jakartaDate(30), required: true});
    var referral = field("referral_number", t("referral"), {autocomplete: "off", maxlength: "19", autocapitalize: "characters"},
                         t("referralHint"));
    var sessionsBox = h("fieldset", {}, [h("legend", {text: t("sessions")})]);
    var sessionsError = h("p", {class: "error", hidden: true, id: uid("sessions-error")});
    var box = alertBox();
    var result = h("div", {"aria-live": "polite"});
    var submit = h("button", {type: "submit", class: "primary", text: moving ? t("moveHere") : t("takeNumber")});
    var waitlist = h("button", {type: "button", class: "secondary", text: t("joinWaitlist"), hidden: true});
    var key = newKey();

    function facilityType() {
      var f = facilities.filter(function (x) { return x.code === facility.input.value; })[0];
      return f ? f.type : "FKTP";
    }
    function chosen() {
      var radio = sessionsBox.querySelector("input[type=radio]:checked");
      return radio ? radio.value : null;
    }
    function syncKind() {
      var hospital = facilityType() === "FKRTL";
      referral.wrap.hidden = !hospital;
      if (!day.input.value || day.input.value < day.input.min) day.input.value = jakartaDate(hospital ? 1 : 0);
    }
    var loads = 0;  // only the answer to the latest question is drawn (a date changed while one was in flight)
    function clearSessions() {
      Array.prototype.slice.call(sessionsBox.querySelectorAll(".radio, p")).forEach(function (el) { el.remove(); });
    }
    async function loadSessions() {
      var mine = ++loads;
      key = newKey();
      waitlist.hidden = true;
      submit.hidden = false;
      sessionsError.hidden = true;
      clearSessions();
      if (!day.input.value) return;
      var data;
      try {
        data = await request("GET", "/v1/facilities/" + encodeURIComponent(facility.input.value) + "/schedules?" +
                             new URLSearchParams({date: day.input.value}).toString());
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (mine === loads) box.show(error.problem);
        return;
      }
      if (!current() || mine !== loads) return;
      clearSessions();
      if (!data.items.length) sessionsBox.appendChild(h("p", {text: t("noSessions")}));
      data.items.forEach(function (s) {
        var id = uid("session");
        var seats = s.remaining_jkn > 0 ? t("seatsLeft", {n: s.remaining_jkn}) : t("full");
        sessionsBox.appendChild(h("div", {class: "radio"}, [
          h("input", {type: "radio", name: "schedule", id: id, value: s.schedule_id,
                      disabled: s.remaining_jkn <= 0 && !has("waitlist"), "data-full": s.remaining_jkn <= 0 ? "1" : null,
                      "aria-describedby": sessionsError.id}),
          h("label", {for: id}, [h("strong", {text: s.poli.name}), " — " + s.doctor.name, h("br"),
            h("span", {class: "muted", text: s.start + "–" + s.end + " · " + seats})])
        ]));
      });
    }
    facility.input.addEventListener("change", function () { syncKind(); box.clear(); loadSessions(); });
    day.input.addEventListener("change", function () { box.clear(); loadSessions(); });
    sessionsBox.addEventListener("change", function () {
      sessionsError.hidden = true;
      var radio = sessionsBox.querySelector("input[type=radio]:checked");
      waitlist.hidden = !(radio && radio.getAttribute("data-full") === "1");
      submit.hidden = !waitlist.hidden;
    });

    function payload() {
      var body = {schedule_id: chosen(), date: day.input.value};
      if (!moving) body.noka = who.input.value;
      if (facilityType() === "FKRTL" && referral.input.value.trim()) body.referral_number = referral.input.value.trim().toUpperCase();
      return body;
    }
    waitlist.addEventListener("click", async function () {
      box.clear();
      busy(waitlist, true);
      try {
        var entry = await api("POST", "/v1/waitlist", payload());
        result.textContent = "";
        result.appendChild(notice(t("waitlisted", {n: entry.position})));
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        box.show(error.problem);
      } finally {
        busy(waitlist, false);
      }
    });
    var form = h("form", {novalidate: true, onsubmit: async function (event) {
      event.preventDefault();
      box.clear();
      clearErrors([day, referral]);
      sessionsError.hidden = true;
      if (!requireFilled([day])) return;
      if (!chosen()) {
        sessionsError.textContent = t("chooseSession");
        sessionsError.hidden = false;
        var first = sessionsBox.querySelector("input[type=radio]:not([disabled])");
        if (first) first.focus();
        return;
      }
      busy(submit, true);
      try {
        var path = moving ? "/v1/bookings/" + encodeURIComponent(moving) + "/reschedule" : "/v1/bookings";
        var booking = await api("POST", path, payload(), {headers: {"Idempotency-Key": key}});
        key = newKey();
        result.textContent = "";
        append(result, h("section", {class: "panel"}, [
          h("h2", {text: t("booked")}), h("p", {class: "big", text: booking.queue_number}),
          h("dl", {class: "facts"}, [
            h("dt", {text: t("bookingCode")}), h("dd", {text: booking.booking_code}),
            h("dt", {text: t("facility")}), h("dd", {text: booking.facility.name}),
            h("dt", {text: t("sessions")}), h("dd", {text: booking.poli.name + " — " + booking.doctor.name}),
            h("dt", {text: t("visitDate")}), h("dd", {text: dateText(booking.date)}),
            h("dt", {text: t("estimate")}), h("dd", {text: instantText(booking.estimated_service_at)})
          ]),
          h("p", {}, h("a", {href: "#/antrean-saya", text: t("seeStatus")}))
        ]));
        result.querySelector("h2").setAttribute("tabindex", "-1");
        result.querySelector("h2").focus();
        loadSessions();
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        var problem = error.problem;
        box.show(problem);
        if (problem.code === "REFERRAL_REQUIRED" || problem.code === "REFERRAL_INVALID") {
          setError(referral, problem.title);
          referral.input.focus();
        }
        if (problem.code === "VALIDATION_ERROR") showFieldErrors(problem, [day, referral]);
        if (problem.code === "QUOTA_FULL" && has("waitlist")) { waitlist.hidden = false; }
      } finally {
        busy(submit, false);
      }
    }}, [moving ? null : who.wrap, facility.wrap, day.wrap, sessionsBox, sessionsError, referral.wrap, box.el,
         h("div", {class: "actions"}, [submit, waitlist])]);
    syncKind();
    append(view, [h("h1", {text: moving ? t("rescheduleTitle") : t("bookTitle")}), h("div", {class: "panel"}, form), result]);
    await loadSessions();
  };

  // -- the waitlist (CONTRACT.md §7), where the API has it -------------------------------------------------------------
  var WAITING = {WAITING: true, OFFERED: true};
  async function waitlistSection(view, box, current) {
    var entries = (await api("GET", "/v1/waitlist")).items.filter(function (e) { return WAITING[e.status]; });
    if (!entries.length || !current()) return;
    var list = h("ul", {class: "list"});
    entries.forEach(function (entry) {
      var leave = h("button", {type: "button", class: "danger", text: t("leaveWaitlist")});
      var take = entry.status === "OFFERED" ? h("button", {type: "button", class: "primary", text: t("accept")}) : null;
      async function act(button, method, path) {
        box.clear();
        busy(button, true);
        try {
          await api(method, path);
          render();
        } catch (error) {
          if (!(error instanceof ApiError)) throw error;
          box.show(error.problem);
          busy(button, false);
        }
      }
      var base = "/v1/waitlist/" + encodeURIComponent(entry.waitlist_id);
      leave.addEventListener("click", function () { act(leave, "DELETE", base); });
      if (take) take.addEventListener("click", function () { act(take, "POST", base + "/accept"); });
      list.appendChild(h("li", {}, [
        h("h3", {text: entry.facility ? entry.facility.name : ""}),
        h("dl", {class: "facts"}, [
          h("dt", {text: t("status")}), h("dd", {text: t(entry.status) + (entry.status === "WAITING" ? " · " +
            t("position", {n: entry.position}) : "")}),
          h("dt", {text: t("sessions")}), h("dd", {text: (entry.poli ? entry.poli.name : "") +
            (entry.doctor ? " — " + entry.doctor.name : "")}),
          h("dt", {text: t("visitDate")}), h("dd", {text: dateText(entry.date)}),
          entry.offer_expires_at ? [h("dt", {text: t("offerUntil")}), h("dd", {text: instantText(entry.offer_expires_at)})] : null
        ]),
        h("div", {class: "actions"}, [take, leave])
      ]));
    });
    append(view, [h("h2", {text: t("waitlistTitle")}), list]);
  }

  // -- my bookings, with the live position ------------------------------------------------------------------------------
  var ACTIVE = {BOOKED: true, CHECKED_IN: true, SERVING: true};
  ROUTES["antrean-saya"] = async function (view, params, current) {
    var data = await api("GET", "/v1/bookings");
    var today = jakartaDate(0);
    var items = data.items.slice().sort(function (a, b) {
      var activeA = ACTIVE[a.status] && a.date >= today ? 0 : 1, activeB = ACTIVE[b.status] && b.date >= today ? 0 : 1;
      return activeA - activeB || (activeA ? (a.date < b.date ? 1 : -1) : (a.date < b.date ? -1 : 1));
    });
    var box = alertBox();
    append(view, [h("h1", {text: t("bookingsTitle")}), box.el]);
    if (!items.length) {
      append(view, [h("p", {text: t("noBookings")}), h("p", {}, h("a", {href: "#/ambil-antrean", text: t("takeOne")}))]);
    }
    var live = [];
    var list = h("ul", {class: "list"});
    items.forEach(function (booking) {
      var li = h("li", {});
      var position = h("p", {class: "position"});
      var isActive = ACTIVE[booking.status] && booking.date >= today;
      append(li, [
        h("h2", {text: booking.facility.name}),
        h("p", {}, [h("span", {class: "label", text: t("queueNumber")}), h("span", {class: "big", text: booking.queue_number})]),
        h("dl", {class: "facts"}, [
          h("dt", {text: t("status")}), h("dd", {text: t(booking.status)}),
          h("dt", {text: t("sessions")}), h("dd", {text: booking.poli.name + " — " + booking.doctor.name}),
          h("dt", {text: t("visitDate")}), h("dd", {text: dateText(booking.date)}),
          h("dt", {text: t("estimate")}), h("dd", {text: booking.estimated_service_at ? instantText(booking.estimated_service_at) : "—"}),
          h("dt", {text: t("bookingCode")}), h("dd", {text: booking.booking_code})
        ]),
        position
      ]);
      if (isActive) {
        live.push({code: booking.booking_code, el: position});
        var reasonId = uid("reason");
        var reason = h("select", {id: reasonId}, ["reasonAbsent", "reasonWell", "reasonWrong", "reasonOther"].map(function (k) {
          return h("option", {value: J.TEXT.id[k], text: t(k)});
        }));
        var confirmBox = h("div", {class: "field", hidden: true}, [h("label", {for: reasonId, text: t("cancelReason")}), reason]);
        var yes = h("button", {type: "button", class: "danger", hidden: true, text: t("confirmCancel")});
        var no = h("button", {type: "button", class: "secondary", hidden: true, text: t("keep")});
        var cancel = h("button", {type: "button", class: "danger", text: t("cancel")});
        cancel.addEventListener("click", function () {
          confirmBox.hidden = false; yes.hidden = false; no.hidden = false; cancel.hidden = true; reason.focus();
        });
        no.addEventListener("click", function () {
          confirmBox.hidden = true; yes.hidden = true; no.hidden = true; cancel.hidden = false; cancel.focus();
        });
        yes.addEventListener("click", async function () {
          box.clear();
          busy(yes, true);
          try {
            await api("POST", "/v1/bookings/" + encodeURIComponent(booking.booking_code) + "/cancel", {reason: reason.value});
            J.setFlash(t("cancelled"));
            render();
          } catch (error) {
            if (!(error instanceof ApiError)) throw error;
            box.show(error.problem);
            busy(yes, false);
          }
        });
        var move = has("reschedule") && booking.status === "BOOKED" ? h("a", {
          href: "#/ambil-antrean?" + new URLSearchParams({ubah: booking.booking_code, fasilitas: booking.facility.code}).toString(),
          text: t("reschedule")}) : null;
        append(li, [confirmBox, h("div", {class: "actions"}, [cancel, yes, no, move])]);
      }
      list.appendChild(li);
    });
    view.appendChild(list);
    if (has("waitlist")) await waitlistSection(view, box, current);

    async function refresh() {
      if (document.hidden) return;
      await Promise.all(live.map(async function (entry) {
        try {
          var detail = await api("GET", "/v1/bookings/" + encodeURIComponent(entry.code));
          if (!current()) return;
          var parts = [];
          if (detail.now_serving !== undefined && detail.now_serving !== null) parts.push(t("nowServing", {n: detail.now_serving || "—"}));
          if (detail.ahead !== undefined && detail.ahead !== null) parts.push(t("ahead", {n: detail.ahead}));
          if (detail.estimated_service_at) parts.push(t("estimate") + ": " + timeText(detail.estimated_service_at));
          parts.push(t("updated", {time: new Date().toLocaleTimeString(locale())}));
          entry.el.textContent = parts.join(" · ");
        } catch (error) {
          if (!(error instanceof ApiError)) throw error;
          if (error.status === 401) throw error;
        }
      }));
    }
    if (live.length) {
      await refresh();
      every(10000, function () { refresh().catch(function () { /* the next round tries again */ }); });
    }
  };
})(window.JKN);
