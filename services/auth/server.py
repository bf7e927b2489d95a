"""Auth's gRPC servicer: translation only — each request becomes one call of a use-case module
(`registration`, `sessions`, `resets`, `pin`, `contact_changes`, `recoveries`, `accounts`) and its result a
reply (`views`)."""

from __future__ import annotations

import grpc

from jkn.auth.v1 import auth_pb2, auth_pb2_grpc
from services.auth import accounts, contact_changes, pin, recoveries, registration, resets, sessions, views
from services.auth.deps import Deps


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    """Accounts, activation, sessions, password reset, PIN and contact changes (for the gateway)."""

    def __init__(self, deps: Deps, *, jwks_max_age_s: int):
        self.deps, self.jwks_max_age_s = deps, jwks_max_age_s

    # -- activation of an existing participant --------------------------------------------
    async def StartRegistration(self, request: auth_pb2.StartRegistrationRequest,
                                context: grpc.aio.ServicerContext) -> auth_pb2.StartRegistrationResponse:
        registration_id, challenge = await registration.start(
            self.deps, identifier=request.identifier, birth_date=request.birth_date, phone=request.phone,
            email=request.email, password=request.password, captcha_passed=request.captcha_passed,
            client=request.client)
        return auth_pb2.StartRegistrationResponse(
            registration_id=registration_id, status=auth_pb2.REGISTRATION_STATUS_PENDING_VERIFICATION, otp=challenge)

    async def ResendRegistrationOtp(self, request: auth_pb2.ResendRegistrationOtpRequest,
                                    context: grpc.aio.ServicerContext) -> auth_pb2.ResendRegistrationOtpResponse:
        challenge = await registration.resend(self.deps, registration_id=request.registration_id,
                                              client=request.client, channel=request.channel)
        return auth_pb2.ResendRegistrationOtpResponse(otp=challenge)

    async def GetRegistration(self, request: auth_pb2.GetRegistrationRequest,
                              context: grpc.aio.ServicerContext) -> auth_pb2.GetRegistrationResponse:
        registration_id, status, challenge = await registration.get(self.deps,
                                                                    registration_id=request.registration_id)
        return auth_pb2.GetRegistrationResponse(registration_id=registration_id,
                                                status=auth_pb2.RegistrationStatus.Value(f"REGISTRATION_STATUS_{status}"),
                                                otp=challenge)

    async def VerifyRegistration(self, request: auth_pb2.VerifyRegistrationRequest,
                                 context: grpc.aio.ServicerContext) -> auth_pb2.VerifyRegistrationResponse:
        account_id = await registration.verify(self.deps, registration_id=request.registration_id,
                                               code=request.code, client=request.client)
        return auth_pb2.VerifyRegistrationResponse(account_id=account_id)

    async def VerifyEmail(self, request: auth_pb2.VerifyEmailRequest,
                          context: grpc.aio.ServicerContext) -> auth_pb2.VerifyEmailResponse:
        await registration.verify_email(self.deps, account_id=request.account_id, code=request.code)
        return auth_pb2.VerifyEmailResponse()

    async def ResendEmailVerification(self, request: auth_pb2.ResendEmailVerificationRequest,
                                      context: grpc.aio.ServicerContext) -> auth_pb2.ResendEmailVerificationResponse:
        challenge = await registration.resend_email_code(self.deps, account_id=request.account_id,
                                                         client=request.client)
        return auth_pb2.ResendEmailVerificationResponse(otp=challenge)

    # -- sessions -------------------------------------------------------------------------
    async def Login(self, request: auth_pb2.LoginRequest,
                    context: grpc.aio.ServicerContext) -> auth_pb2.LoginResponse:
        issued = await sessions.login(self.deps, identifier=request.identifier, password=request.password,
                                      captcha_passed=request.captcha_passed, client=request.client)
        return auth_pb2.LoginResponse(tokens=views.token_pair(issued))

    async def RefreshSession(self, request: auth_pb2.RefreshSessionRequest,
                             context: grpc.aio.ServicerContext) -> auth_pb2.RefreshSessionResponse:
        issued = await sessions.refresh(self.deps, refresh_token=request.refresh_token)
        return auth_pb2.RefreshSessionResponse(tokens=views.token_pair(issued))

    async def Logout(self, request: auth_pb2.LogoutRequest,
                     context: grpc.aio.ServicerContext) -> auth_pb2.LogoutResponse:
        await sessions.logout(self.deps, access_token=request.access_token)
        return auth_pb2.LogoutResponse()

    async def ListSessions(self, request: auth_pb2.ListSessionsRequest,
                           context: grpc.aio.ServicerContext) -> auth_pb2.ListSessionsResponse:
        rows = await sessions.open_sessions(self.deps, account_id=request.account_id)
        return auth_pb2.ListSessionsResponse(
            sessions=[views.session(row, current_session_id=request.session_id) for row in rows])

    async def RevokeSession(self, request: auth_pb2.RevokeSessionRequest,
                            context: grpc.aio.ServicerContext) -> auth_pb2.RevokeSessionResponse:
        await sessions.revoke(self.deps, account_id=request.account_id, session_id=request.session_id)
        return auth_pb2.RevokeSessionResponse()

    # -- password reset -------------------------------------------------------------------
    async def StartPasswordReset(self, request: auth_pb2.StartPasswordResetRequest,
                                 context: grpc.aio.ServicerContext) -> auth_pb2.StartPasswordResetResponse:
        reset_id = await resets.start(self.deps, identifier=request.identifier,
                                      captcha_passed=request.captcha_passed, client=request.client)
        return auth_pb2.StartPasswordResetResponse(reset_id=reset_id)

    async def CompletePasswordReset(self, request: auth_pb2.CompletePasswordResetRequest,
                                    context: grpc.aio.ServicerContext) -> auth_pb2.CompletePasswordResetResponse:
        await resets.complete(self.deps, reset_id=request.reset_id, code=request.code,
                              new_password=request.new_password)
        return auth_pb2.CompletePasswordResetResponse()

    async def ResendPasswordResetOtp(self, request: auth_pb2.ResendPasswordResetOtpRequest,
                                     context: grpc.aio.ServicerContext) -> auth_pb2.ResendPasswordResetOtpResponse:
        await resets.resend(self.deps, reset_id=request.reset_id, channel=request.channel, client=request.client)
        return auth_pb2.ResendPasswordResetOtpResponse()

    # -- PIN ------------------------------------------------------------------------------
    async def SetPin(self, request: auth_pb2.SetPinRequest,
                     context: grpc.aio.ServicerContext) -> auth_pb2.SetPinResponse:
        await pin.set_pin(self.deps, account_id=request.account_id, pin=request.pin, password=request.password)
        return auth_pb2.SetPinResponse()

    async def VerifyPin(self, request: auth_pb2.VerifyPinRequest,
                        context: grpc.aio.ServicerContext) -> auth_pb2.VerifyPinResponse:
        await pin.verify(self.deps, account_id=request.account_id, pin=request.pin)
        return auth_pb2.VerifyPinResponse()

    # -- email and phone changes ----------------------------------------------------------
    async def StartEmailChange(self, request: auth_pb2.StartEmailChangeRequest,
                               context: grpc.aio.ServicerContext) -> auth_pb2.StartEmailChangeResponse:
        change_id, challenge = await contact_changes.start(
            self.deps, account_id=request.account_id, kind="email", new_value=request.new_email,
            pin_code=request.pin, client=request.client)
        return auth_pb2.StartEmailChangeResponse(change_id=change_id, otp=challenge)

    async def VerifyEmailChange(self, request: auth_pb2.VerifyEmailChangeRequest,
                                context: grpc.aio.ServicerContext) -> auth_pb2.VerifyEmailChangeResponse:
        await contact_changes.verify(self.deps, account_id=request.account_id, kind="email",
                                     change_id=request.change_id, code=request.code)
        return auth_pb2.VerifyEmailChangeResponse()

    async def StartPhoneChange(self, request: auth_pb2.StartPhoneChangeRequest,
                               context: grpc.aio.ServicerContext) -> auth_pb2.StartPhoneChangeResponse:
        change_id, challenge = await contact_changes.start(
            self.deps, account_id=request.account_id, kind="phone", new_value=request.new_phone,
            pin_code=request.pin, client=request.client)
        return auth_pb2.StartPhoneChangeResponse(change_id=change_id, otp=challenge)

    async def VerifyPhoneChange(self, request: auth_pb2.VerifyPhoneChangeRequest,
                                context: grpc.aio.ServicerContext) -> auth_pb2.VerifyPhoneChangeResponse:
        await contact_changes.verify(self.deps, account_id=request.account_id, kind="phone",
                                     change_id=request.change_id, code=request.code)
        return auth_pb2.VerifyPhoneChangeResponse()

    # -- the account ----------------------------------------------------------------------
    async def GetAccount(self, request: auth_pb2.GetAccountRequest,
                         context: grpc.aio.ServicerContext) -> auth_pb2.GetAccountResponse:
        account = await accounts.by_id(self.deps.pool, account_id=request.account_id)
        return auth_pb2.GetAccountResponse(account=views.account(account))

    async def GetJwks(self, request: auth_pb2.GetJwksRequest,
                      context: grpc.aio.ServicerContext) -> auth_pb2.GetJwksResponse:
        return views.jwks(self.deps.signing_keys, max_age_s=self.jwks_max_age_s)

    # -- account recovery -----------------------------------------------------------------
    async def StartAccountRecovery(self, request: auth_pb2.StartAccountRecoveryRequest,
                                   context: grpc.aio.ServicerContext) -> auth_pb2.StartAccountRecoveryResponse:
        recovery_id = await recoveries.start(self.deps, identifier=request.identifier, birth_date=request.birth_date,
                                             new_phone=request.new_phone, captcha_passed=request.captcha_passed,
                                             client=request.client)
        return auth_pb2.StartAccountRecoveryResponse(recovery_id=recovery_id)

    async def VerifyRecoveryEmail(self, request: auth_pb2.VerifyRecoveryEmailRequest,
                                  context: grpc.aio.ServicerContext) -> auth_pb2.VerifyRecoveryEmailResponse:
        await recoveries.verify_email(self.deps, recovery_id=request.recovery_id, code=request.code,
                                      client=request.client)
        return auth_pb2.VerifyRecoveryEmailResponse()

    async def VerifyRecoveryPhone(self, request: auth_pb2.VerifyRecoveryPhoneRequest,
                                  context: grpc.aio.ServicerContext) -> auth_pb2.VerifyRecoveryPhoneResponse:
        effective_at = await recoveries.verify_phone(self.deps, recovery_id=request.recovery_id, code=request.code)
        reply = auth_pb2.VerifyRecoveryPhoneResponse()
        reply.effective_at.FromDatetime(effective_at)
        return reply

    async def ListAccountRecoveries(self, request: auth_pb2.ListAccountRecoveriesRequest,
                                    context: grpc.aio.ServicerContext) -> auth_pb2.ListAccountRecoveriesResponse:
        rows = await recoveries.pending(self.deps, account_id=request.account_id)
        return auth_pb2.ListAccountRecoveriesResponse(recoveries=[views.recovery(row) for row in rows])

    async def CancelAccountRecovery(self, request: auth_pb2.CancelAccountRecoveryRequest,
                                    context: grpc.aio.ServicerContext) -> auth_pb2.CancelAccountRecoveryResponse:
        await recoveries.cancel(self.deps, account_id=request.account_id, recovery_id=request.recovery_id)
        return auth_pb2.CancelAccountRecoveryResponse()
