from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from canceldesk.service_layer import auth

from ..deps import ClientAddress, ContainerDep, CurrentPrincipal, Lang, bearer_token
from ..schemas import OtpCreate, StaffLogin, TokenCreate

router = APIRouter(prefix="/v1/auth", tags=["auth"])


@router.post("/otp", status_code=202, summary="Send a one-time code by SMS")
def send_otp(body: OtpCreate, c: ContainerDep, client: ClientAddress, lang: Lang):
    auth.send_otp(c, body.msisdn, client=client, lang=lang)
    return {"status": "sent", "message": "if this number is served here, a code is on its way; it is valid for 5 minutes"}


@router.post("/token", summary="Exchange the code for a bearer token")
def token(body: TokenCreate, c: ContainerDep, client: ClientAddress):
    return auth.exchange_otp(c, body.msisdn, body.otp, client=client)


@router.post("/staff", summary="Staff (agent, reviewer, admin) log in with a password")
def staff(body: StaffLogin, c: ContainerDep, client: ClientAddress):
    return auth.staff_login(c, body.username, body.password, client=client)


@router.post("/logout", status_code=204, summary="End this session")
def logout(p: CurrentPrincipal, c: ContainerDep, request: Request):
    auth.logout(c, bearer_token(request))
    return Response(status_code=204)


@router.get("/me", summary="Who am I")
def me(p: CurrentPrincipal):
    return {"kind": p.kind, "role": p.role, "store": p.store, "enterprise_id": p.enterprise_id}
