"""Partner API keys (JSON): an enterprise admin creates, lists and revokes the company's keys.

The key itself is in the answer to POST only; a list shows its prefix. Another enterprise's key
answers 404 like one that does not exist; any other role gets 403 from deps.py.
"""
from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from canceldesk.service_layer import partner_keys

from ..deps import ContainerDep, CurrentEnterpriseAdmin
from ..schemas import Strict

router = APIRouter(prefix="/v1/enterprise/partner-keys", tags=["enterprise"])


class PartnerKeyCreate(Strict):
    name: str = Field(min_length=1, max_length=100, description="which system will use the key")


@router.post("", status_code=201, summary="Create a partner API key (shown once)")
def create_key(body: PartnerKeyCreate, p: CurrentEnterpriseAdmin, c: ContainerDep):
    return partner_keys.create(c, p, body.name)


@router.get("", summary="The company's partner API keys (never the keys themselves)")
def list_keys(p: CurrentEnterpriseAdmin, c: ContainerDep):
    return partner_keys.list_keys(c, p)


@router.delete("/{key_id}", summary="Revoke a partner API key at once")
def revoke_key(key_id: str, p: CurrentEnterpriseAdmin, c: ContainerDep):
    return partner_keys.revoke(c, p, key_id)
