"""The gateway fixtures, for the membership tests that go through the edge."""

from tests.gateway.conftest import gateway_client  # noqa: F401
