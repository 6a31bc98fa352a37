from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from canceldesk.service_layer import auth

from ..deps import ContainerDep, CurrentPrincipal
from ..schemas import OtpCreate, StaffLogin, TokenCreate

router = APIRouter(prefix="/v1/auth", tags=["auth"])


@router.post("/otp", status_code=202, summary="Send a one-time code by SMS")
def send_otp(body: OtpCreate, c: ContainerDep, request: Request):
    c.rate_limiter.hit(f"otp-ip:{request.client.host if request.client else 'unknown'}")
    auth.send_otp(c, body.msisdn)
    return {"status": "sent", "message": "if this number is served here, a code is on its way; it is valid for 5 minutes"}


@router.post("/token", summary="Exchange the code for a bearer token")
def token(body: TokenCreate, c: ContainerDep, request: Request):
    c.rate_limiter.hit(f"token-ip:{request.client.host if request.client else 'unknown'}")
    return auth.exchange_otp(c, body.msisdn, body.otp)


@router.post("/staff", summary="Staff (agent, reviewer, admin) log in with a password")
def staff(body: StaffLogin, c: ContainerDep, request: Request):
    c.rate_limiter.hit(f"staff-ip:{request.client.host if request.client else 'unknown'}")
    return auth.staff_login(c, body.username, body.password)


@router.post("/logout", status_code=204, summary="End this session")
def logout(p: CurrentPrincipal, c: ContainerDep, request: Request):
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get("cd_session", "")
    auth.logout(c, token)
    return JSONResponse(status_code=204, content=None)


@router.get("/me", summary="Who am I")
def me(p: CurrentPrincipal):
    return {"kind": p.kind, "role": p.role, "store": p.store, "enterprise_id": p.enterprise_id}
