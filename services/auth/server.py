"""Auth's gRPC servicer: thin translation to the domain; unimplemented RPCs answer UNIMPLEMENTED."""

from __future__ import annotations

import json

import grpc

from jkn.auth.v1 import auth_pb2, auth_pb2_grpc
from jkn.common.v1 import common_pb2
from services.kit.signing import SigningKey, jwks


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, *, signing_keys: list[SigningKey], jwks_max_age_s: int):
        self.signing_keys = signing_keys
        self.jwks_max_age_s = jwks_max_age_s

    async def GetJwks(self, request: auth_pb2.GetJwksRequest, context: grpc.aio.ServicerContext
                      ) -> auth_pb2.GetJwksResponse:
        document = jwks(self.signing_keys)
        return auth_pb2.GetJwksResponse(
            jwks_json=json.dumps(document), max_age_s=self.jwks_max_age_s,
            keys=[common_pb2.PublicJwk(**key) for key in document["keys"]])
