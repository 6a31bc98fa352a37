"""`POST /v1/assistant/messages` — free text in, a proposal (or a question) out; acts only on confirmation."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from fastapi import APIRouter

from canceldesk.service_layer import assistant

from ..deps import ContainerDep, CurrentSubscriber, Lang

router = APIRouter(prefix="/v1/assistant", tags=["assistant"])


class AssistantMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(default="", max_length=assistant.MAX_TEXT)
    conversation_id: str | None = Field(default=None, max_length=36)
    confirm: bool = False


@router.post("/messages", summary="Say what you want in your own words; nothing is done until you confirm")
def message(body: AssistantMessage, p: CurrentSubscriber, c: ContainerDep, lang: Lang):
    return assistant.handle(c, p, body.text, body.conversation_id, body.confirm, lang, p.login_msisdn)
