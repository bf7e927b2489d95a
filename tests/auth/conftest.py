"""The gateway fixtures, for the auth tests that go through the edge."""

from tests.gateway.conftest import gateway_client, platform  # noqa: F401
