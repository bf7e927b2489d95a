"""The partner signature scheme of CONTRACT.md §5, exactly at its ±300 s edges."""

from __future__ import annotations

import pytest

from services.kit.errors import Unauthenticated
from services.kit.partner_auth import PartnerSecrets, authenticate, sign, signed_metadata


class Context:
    def __init__(self, metadata):
        self.metadata = metadata

    def invocation_metadata(self):
        return self.metadata


def test_signature_is_base64_hmac_sha256_of_cons_id_and_timestamp():
    # computed independently: base64(HMAC-SHA256("dev-secret-X", "X&1700000000"))
    import base64
    import hashlib
    import hmac

    expected = base64.b64encode(hmac.new(b"dev-secret-X", b"X&1700000000", hashlib.sha256).digest()).decode()
    assert sign("dev-secret-X", "X", 1700000000) == expected


@pytest.mark.parametrize(("skew", "accepted"), [(0, True), (300, True), (-300, True), (301, False), (-301, False)])
def test_timestamp_window(skew, accepted):
    secrets = PartnerSecrets("", dev_fallback=True)
    context = Context(signed_metadata("dev-secret-0114R001", "0114R001", 1_700_000_000 + skew))
    if accepted:
        assert authenticate(context, secrets, now=1_700_000_000) == "0114R001"
    else:
        with pytest.raises(Unauthenticated):
            authenticate(context, secrets, now=1_700_000_000)


def test_configured_secrets_replace_the_dev_fallback_in_prod():
    secrets = PartnerSecrets("0114R001:real-secret", dev_fallback=False)
    assert authenticate(Context(signed_metadata("real-secret", "0114R001", 1000)), secrets, now=1000) == "0114R001"
    for metadata in (signed_metadata("dev-secret-0114R001", "0114R001", 1000),
                     signed_metadata("dev-secret-0114U001", "0114U001", 1000)):
        with pytest.raises(Unauthenticated):
            authenticate(Context(metadata), secrets, now=1000)
