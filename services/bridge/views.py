"""Partner replies → the fields BPJS's Antrean RS and VClaim answers carry (CONTRACT.md §8).
Presentation only: names, formats and labels as SIMRS software reads them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from jkn.membership.v1 import membership_pb2
from jkn.membership.v1 import partner_pb2 as membership_partner_pb2
from jkn.queue.v1 import partner_pb2, queue_pb2
from services.kit.clock import JAKARTA

DAY_NAMES = {1: "SENIN", 2: "SELASA", 3: "RABU", 4: "KAMIS", 5: "JUMAT", 6: "SABTU", 7: "MINGGU"}
#: BPJS's names of the task ids (Antrean RS ``getlisttask``).
TASK_NAMES = {
    1: "mulai waktu tunggu admisi",
    2: "akhir waktu tunggu admisi/mulai waktu layan admisi",
    3: "akhir waktu layan admisi/mulai waktu tunggu poli",
    4: "akhir waktu tunggu poli/mulai waktu layan poli",
    5: "akhir waktu layan poli/mulai waktu tunggu farmasi",
    6: "akhir waktu tunggu farmasi/mulai waktu layan farmasi membuat obat",
    7: "akhir waktu obat selesai dibuat",
    99: "tidak hadir/batal",
}
STATUS_NAMES = {
    queue_pb2.BOOKING_STATUS_BOOKED: "Belum dilayani",
    queue_pb2.BOOKING_STATUS_CHECKED_IN: "Sudah checkin",
    queue_pb2.BOOKING_STATUS_SERVING: "Sedang dilayani",
    queue_pb2.BOOKING_STATUS_DONE: "Selesai dilayani",
    queue_pb2.BOOKING_STATUS_CANCELLED: "Batal",
    queue_pb2.BOOKING_STATUS_NO_SHOW: "Tidak hadir",
}
SOURCE_NAMES = {partner_pb2.BOOKING_SOURCE_DESK: "Bridging Antrean"}
SEGMENTS = {
    membership_pb2.SEGMENT_PBI_APBN: "PBI (APBN)",
    membership_pb2.SEGMENT_PBI_APBD: "PBI (APBD)",
    membership_pb2.SEGMENT_PPU: "PEKERJA PENERIMA UPAH",
    membership_pb2.SEGMENT_PBPU: "PEKERJA BUKAN PENERIMA UPAH",
    membership_pb2.SEGMENT_BP: "BUKAN PEKERJA",
}
CLASSES = {1: "KELAS I", 2: "KELAS II", 3: "KELAS III"}


def epoch_ms(at: Timestamp) -> int:
    return at.ToMilliseconds()


def wall_clock(at: Timestamp) -> str:
    """BPJS's "16-03-2021 11:32:49 WIB"."""
    moment = datetime.fromtimestamp(at.ToMilliseconds() / 1000, tz=UTC).astimezone(JAKARTA)
    return f"{moment:%d-%m-%Y %H:%M:%S} WIB"


def polis(reply: partner_pb2.ListReferencesResponse) -> list[dict[str, str]]:
    """``ref/poli``: the platform has no sub-specialties, so each poli is its own."""
    return [{"kdpoli": p.code, "nmpoli": p.name, "kdsubspesialis": p.code, "nmsubspesialis": p.name}
            for p in reply.polis]


def doctors(reply: partner_pb2.ListReferencesResponse) -> list[dict[str, str]]:
    return [{"kodedokter": d.code, "namadokter": d.name} for d in reply.doctors]


def schedules(sessions: list[partner_pb2.PartnerSession]) -> list[dict[str, Any]]:
    """``jadwaldokter``: ``kapasitaspasien`` is the JKN quota; ``libur`` 1 on a closed date."""
    rows = []
    for session in sessions:
        s = session.schedule
        weekday = date.fromisoformat(s.date).isoweekday()
        rows.append({"kodedokter": s.doctor.code, "namadokter": s.doctor.name, "kodepoli": s.poli.code,
                     "namapoli": s.poli.name, "kodesubspesialis": s.poli.code, "namasubspesialis": s.poli.name,
                     "hari": weekday, "namahari": DAY_NAMES[weekday], "jadwal": f"{s.start}-{s.end}",
                     "kapasitaspasien": s.quota_jkn, "libur": 1 if session.closed else 0})
    return rows


def registration(reg: partner_pb2.Registration) -> dict[str, Any]:
    """One row of ``antrean/pendaftaran``. The platform keeps no NIK or phone with a booking."""
    b = reg.booking
    return {"kodebooking": b.booking_code, "tanggal": b.date, "kodepoli": b.poli.code, "kodedokter": b.doctor.code,
            "jampraktek": f"{reg.start}-{reg.end}", "nik": "", "nokapst": b.noka, "nohp": "",
            "norekammedis": b.medical_record_number, "jeniskunjungan": b.visit_type,
            "nomorreferensi": b.referral_number, "sumberdata": SOURCE_NAMES.get(reg.source, "Mobile JKN"),
            "ispeserta": 0 if reg.non_jkn else 1, "noantrean": b.queue_number,
            "estimasidilayani": epoch_ms(b.estimated_service_at),
            "createdtime": epoch_ms(b.created_at), "status": STATUS_NAMES.get(b.status, "")}


def desk_booking(reg: partner_pb2.Registration) -> dict[str, Any]:
    """The answer to ``antrean/add``: the platform's numbers for the hospital's booking."""
    b = reg.booking
    return {"kodebooking": b.booking_code, "nomorantrean": b.queue_number, "angkaantrean": b.queue_seq,
            "norm": b.medical_record_number, "namapoli": b.poli.name, "namadokter": b.doctor.name,
            "estimasidilayani": epoch_ms(b.estimated_service_at), "sisakuotajkn": b.remaining_jkn,
            "kuotajkn": reg.quota_jkn, "sisakuotanonjkn": max(reg.quota_non_jkn - reg.taken_non_jkn, 0),
            "kuotanonjkn": reg.quota_non_jkn,
            "keterangan": "Peserta harap datang 30 menit sebelum estimasi dilayani"}


def received_times(reg: partner_pb2.Registration) -> dict[int, Timestamp]:
    """When the platform received each task time, by task id."""
    return {int(t.task_id): t.at for t in reg.received}


def tasks(reg: partner_pb2.Registration) -> list[dict[str, Any]]:
    """``antrean/getlisttask``, as BPJS answers: ``wakturs`` the time the hospital reported,
    ``waktu`` when the platform received it (the hospital's time where that is unknown)."""
    received = received_times(reg)
    return [{"kodebooking": reg.booking.booking_code, "taskid": t.task_id, "taskname": TASK_NAMES.get(t.task_id, ""),
             "wakturs": wall_clock(t.at), "waktu": wall_clock(received.get(int(t.task_id), t.at))}
            for t in reg.booking.tasks]


def _status(reply: membership_partner_pb2.CheckEligibilityResponse) -> dict[str, str]:
    if reply.eligible:
        return {"kode": "0", "keterangan": "AKTIF"}
    reason = membership_pb2.StatusReason.Name(reply.status_reason).removeprefix("STATUS_REASON_")
    return {"kode": str(reply.status_reason or 9), "keterangan": "TIDAK_AKTIF" if reason == "UNSPECIFIED" else reason}


def participant(reply: membership_partner_pb2.CheckEligibilityResponse) -> dict[str, Any]:
    """VClaim's ``peserta``."""
    care_class = getattr(reply, "class")
    return {"noKartu": reply.noka, "nik": reply.nik, "nama": reply.name,
            "sex": {membership_pb2.SEX_MALE: "L", membership_pb2.SEX_FEMALE: "P"}.get(reply.sex, ""),
            "tglLahir": reply.birth_date, "statusPeserta": _status(reply),
            "hakKelas": {"kode": str(care_class), "keterangan": CLASSES.get(care_class, "")},
            "jenisPeserta": {"kode": membership_pb2.Segment.Name(reply.segment).removeprefix("SEGMENT_"),
                             "keterangan": SEGMENTS.get(reply.segment, "")},
            "provUmum": {"kdProvider": reply.fktp_code, "nmProvider": reply.fktp_name}}


def referral(reply: partner_pb2.GetReferralResponse,
             eligibility: membership_partner_pb2.CheckEligibilityResponse) -> dict[str, Any]:
    """VClaim's ``rujukan``."""
    return {"noKunjungan": reply.referral_number, "tglKunjungan": reply.issued_on, "tglBerlaku": reply.valid_until,
            "poliRujukan": {"kode": reply.poli.code, "nama": reply.poli.name},
            "provPerujuk": {"kode": reply.from_facility.code, "nama": reply.from_facility.name},
            "jenisKunjungan": reply.visit_type, "peserta": participant(eligibility)}
