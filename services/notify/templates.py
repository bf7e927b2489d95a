"""What people read: every notification in Bahasa Indonesia (default) and English.

Templates are keyed by ``jkn.notify.v1.NotificationTemplate`` names without their prefix
(``otp_code``, ``booking_confirmed`` …). A template's parameters must all be given; a
missing one is an error (the request goes to the dead-letter topic, nothing half-sent).
"""

from __future__ import annotations

from dataclasses import dataclass

WARNING_ID = "JANGAN berikan kode ini kepada siapa pun, termasuk petugas BPJS Kesehatan."
WARNING_EN = "Do NOT share this code with anyone, including BPJS Kesehatan staff."

#: template → language → (subject, body)
TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "otp_code": {
        "id": ("Kode verifikasi Mobile JKN",
               "Kode verifikasi Mobile JKN Anda: {code}. Berlaku {minutes} menit. " + WARNING_ID),
        "en": ("Your Mobile JKN verification code",
               "Your Mobile JKN verification code: {code}. Valid for {minutes} minutes. " + WARNING_EN),
    },
    "account_activated": {
        "id": ("Akun Mobile JKN aktif", "Akun Mobile JKN Anda telah aktif. Selamat datang!"),
        "en": ("Mobile JKN account activated", "Your Mobile JKN account is active. Welcome!"),
    },
    "new_device_login": {
        "id": ("Login dari perangkat baru",
               "Akun Mobile JKN Anda baru saja masuk dari perangkat baru ({device}) pada {at}. "
               "Jika ini bukan Anda, segera ganti kata sandi."),
        "en": ("Login from a new device",
               "Your Mobile JKN account just signed in from a new device ({device}) at {at}. "
               "If this was not you, change your password now."),
    },
    "password_changed": {
        "id": ("Kata sandi diubah", "Kata sandi akun Mobile JKN Anda telah diubah. Jika ini bukan Anda, "
                                    "hubungi Care Center 165."),
        "en": ("Password changed", "Your Mobile JKN password was changed. If this was not you, call Care Center 165."),
    },
    "pin_changed": {
        "id": ("PIN diubah", "PIN akun Mobile JKN Anda telah diubah. Jika ini bukan Anda, hubungi Care Center 165."),
        "en": ("PIN changed", "Your Mobile JKN PIN was changed. If this was not you, call Care Center 165."),
    },
    "email_changed": {
        "id": ("Email akun diubah", "Email akun Mobile JKN Anda diubah menjadi {new_email_masked}. "
                                    "Jika ini bukan Anda, hubungi Care Center 165."),
        "en": ("Account email changed", "Your Mobile JKN email was changed to {new_email_masked}. "
                                        "If this was not you, call Care Center 165."),
    },
    "phone_changed": {
        "id": ("Nomor HP akun diubah", "Nomor HP akun Mobile JKN Anda diubah menjadi {new_phone_masked}. "
                                       "Jika ini bukan Anda, hubungi Care Center 165."),
        "en": ("Account phone changed", "Your Mobile JKN phone number was changed to {new_phone_masked}. "
                                        "If this was not you, call Care Center 165."),
    },
    "payment_received": {
        "id": ("Pembayaran iuran diterima", "Pembayaran iuran JKN sebesar Rp{amount} untuk periode {periods} "
                                            "telah diterima. Terima kasih."),
        "en": ("Premium payment received", "Your JKN premium payment of Rp{amount} for {periods} was received. "
                                           "Thank you."),
    },
    "booking_confirmed": {
        "id": ("Antrean online terdaftar", "Antrean {queue_number} di {facility}, poli {poli}, tanggal {date}. "
                                           "Perkiraan dilayani pukul {estimated_time}. Kode booking {booking_code}."),
        "en": ("Online queue booked", "Queue {queue_number} at {facility}, {poli} clinic, on {date}. "
                                      "Estimated service at {estimated_time}. Booking code {booking_code}."),
    },
    "booking_reminder": {
        "id": ("Pengingat antrean besok", "Besok {date} Anda terdaftar di {facility}, poli {poli}, antrean "
                                          "{queue_number}. Datang 30 menit sebelum {estimated_time}."),
        "en": ("Queue reminder for tomorrow", "Tomorrow, {date}, you are booked at {facility}, {poli} clinic, "
                                              "queue {queue_number}. Arrive 30 minutes before {estimated_time}."),
    },
    "turn_near": {
        "id": ("Giliran Anda segera tiba", "Antrean {queue_number} di poli {poli}: tinggal {ahead} orang lagi "
                                           "sebelum giliran Anda."),
        "en": ("Your turn is near", "Queue {queue_number} at the {poli} clinic: {ahead} people ahead of you."),
    },
    "booking_cancelled_by_facility": {
        "id": ("Antrean dibatalkan", "Antrean {queue_number} di {facility} tanggal {date} dibatalkan oleh "
                                     "fasilitas kesehatan: {reason}."),
        "en": ("Booking cancelled", "Queue {queue_number} at {facility} on {date} was cancelled by the facility: "
                                    "{reason}."),
    },
    "waitlist_booked": {
        "id": ("Dapat antrean dari daftar tunggu", "Kursi kosong untuk Anda: antrean {queue_number} di {facility}, "
                                                   "poli {poli}, tanggal {date}. Perkiraan dilayani pukul "
                                                   "{estimated_time}. Kode booking {booking_code}."),
        "en": ("Booked from the waitlist", "A seat freed up for you: queue {queue_number} at {facility}, {poli} "
                                           "clinic, on {date}. Estimated service at {estimated_time}. Booking code "
                                           "{booking_code}."),
    },
    "waitlist_offered": {
        "id": ("Kursi antrean ditawarkan", "Ada kursi kosong di {facility}, poli {poli}, tanggal {date}. Kursi "
                                           "disimpan untuk Anda sampai pukul {until}: terima di aplikasi."),
        "en": ("A queue seat is offered", "A seat freed up at {facility}, {poli} clinic, on {date}. It is held for "
                                          "you until {until}: accept it in the app."),
    },
    "waitlist_offer_expired": {
        "id": ("Tawaran kursi berakhir", "Kursi di {facility}, poli {poli}, tanggal {date} tidak diterima tepat "
                                         "waktu dan diberikan ke antrean berikutnya."),
        "en": ("Seat offer expired", "The seat at {facility}, {poli} clinic, on {date} was not accepted in time and "
                                     "went to the next in line."),
    },
    "waitlist_session_closed": {
        "id": ("Daftar tunggu berakhir", "Dokter di {facility}, poli {poli}, tidak praktik tanggal {date}; daftar "
                                         "tunggu Anda berakhir. Silakan pilih jadwal lain di aplikasi."),
        "en": ("Waitlist ended", "The doctor at {facility}, {poli} clinic, does not practise on {date}; your "
                                 "waitlist entry has ended. Please pick another session in the app."),
    },
    "account_recovery_scheduled": {
        "id": ("Permintaan pemulihan akun", "Ada permintaan mengganti nomor HP akun Mobile JKN Anda menjadi "
                                            "{new_phone_masked}, berlaku {at}. Jika ini bukan Anda, masuk ke aplikasi "
                                            "dan batalkan di menu Keamanan > Pemulihan akun sebelum waktu itu, atau "
                                            "hubungi Care Center 165."),
        "en": ("Account recovery requested", "Someone asked to change your Mobile JKN phone number to "
                                             "{new_phone_masked}, effective {at}. If this was not you, log in to the "
                                             "app and cancel it under Security > Account recovery before then, or "
                                             "call Care Center 165."),
    },
    "account_recovered": {
        "id": ("Akun dipulihkan", "Nomor ini kini menjadi nomor HP akun Mobile JKN Anda sejak {at}. Semua sesi "
                                  "telah diakhiri; silakan masuk kembali."),
        "en": ("Account recovered", "This is now the phone number of your Mobile JKN account, since {at}. Every "
                                    "session was ended; please log in again."),
    },
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def render(template: str, language: str, params: dict[str, str]) -> Rendered:
    """The subject and body of ``template`` in ``language`` (``id`` unless ``en``)."""
    texts = TEMPLATES[template]
    subject, body = texts["en" if language == "en" else "id"]
    return Rendered(subject.format_map(params), body.format_map(params))
