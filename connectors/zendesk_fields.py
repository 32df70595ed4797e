"""How single Zendesk ticket values map onto canonical ones: statuses, priorities, channels, satisfaction,
custom fields. Shared by the per-ticket mapping (:mod:`connectors.zendesk`) and the column-wise one
(:mod:`connectors.zendesk_frame`), so both apply the same rules."""

from __future__ import annotations

from typing import Any

from connectors.config import ZendeskApiConfig, ZendeskFilesConfig
from connectors.parsing import RecordError, map_value, survey_score
from servicelens.model import Channel, Priority, Status

ZendeskOptions = ZendeskFilesConfig | ZendeskApiConfig

STATUS_MAP: dict[str, str] = {
    "new": Status.NEW,
    "open": Status.OPEN,
    "pending": Status.PENDING,
    "hold": Status.ON_HOLD,
    "on-hold": Status.ON_HOLD,
    "solved": Status.SOLVED,
    "closed": Status.CLOSED,
}
PRIORITY_MAP: dict[str, str] = {p.value: p for p in Priority}
# via.channel values from Zendesk's "Via object reference"; anything else is `other`.
CHANNEL_MAP: dict[str, str] = {
    **dict.fromkeys(["email", "mail"], Channel.EMAIL),
    **dict.fromkeys(
        ["web", "web_form", "web_widget", "web_service", "help_center", "mobile", "mobile_sdk"], Channel.WEB
    ),
    **dict.fromkeys(
        ["chat", "chat_transcript", "native_messaging", "messaging", "sunshine_conversations"], Channel.CHAT
    ),
    **dict.fromkeys(
        ["voice", "phone", "phone_call_inbound", "phone_call_outbound", "sms", "text"], Channel.PHONE
    ),
    **dict.fromkeys(
        [
            "twitter",
            "twitter_dm",
            "facebook",
            "facebook_post",
            "facebook_messenger",
            "instagram_dm",
            "whatsapp",
            "line",
            "wechat",
            "telegram",
            "viber",
            "google_rcs",
            "apple_business_chat",
            "kakaotalk",
        ],
        Channel.SOCIAL,
    ),
}


def ticket_status(value: Any, field_name: str, options: ZendeskOptions) -> str | None:
    """Deleted tickets have no canonical status: kept as closed (tagged `deleted`) or rejected, per config."""
    if str(value or "").lower() == "deleted":
        if options.deleted_tickets == "reject":
            raise RecordError(field_name, "ticket was deleted in Zendesk")
        return Status.CLOSED
    return map_value(value, field_name, STATUS_MAP, options.status_map)


def is_deleted(status: Any) -> bool:
    """Whether a ticket's own ``status`` says deleted (such tickets are tagged `deleted`)."""
    return str(status).lower() == "deleted"


def channel_of(via_channel: Any, options: ZendeskOptions) -> str | None:
    return map_value(via_channel, "via.channel", CHANNEL_MAP, options.channel_map, Channel.OTHER)


def priority_of(priority: Any, options: ZendeskOptions) -> str | None:
    return map_value(priority, "priority", PRIORITY_MAP, options.priority_map)


def csat_from_score(score: Any, options: ZendeskOptions) -> int | None:
    """Zendesk rates good/bad; these become ``csat_good``/``csat_bad`` (default 5 and 1), others empty."""
    value = str(score or "").lower()
    if value == "good":
        return options.csat_good
    if value == "bad":
        return options.csat_bad
    return None


def reads_custom_fields(options: ZendeskOptions) -> bool:
    """Whether tickets' custom fields are mapped: for the location, NPS or CES."""
    return bool(options.location_field) or options.nps_field is not None or options.ces_field is not None


def ticket_custom_fields(ticket: dict[str, Any]) -> Any:
    """A ticket's custom field list: ``custom_fields``, else ``fields`` (None or empty when it has none)."""
    return ticket.get("custom_fields") or ticket.get("fields")


def custom_field_value(custom_fields: Any, field_id: str) -> Any:
    """The value of custom field ``field_id`` in a ticket's custom field list, None when absent."""
    for custom in custom_fields or []:
        if isinstance(custom, dict) and str(custom.get("id")) == field_id:
            return custom.get("value")
    return None


def survey_answer(custom_fields: Any, field_id: int | None, score: str) -> int | None:
    """An NPS or CES answer a survey integration wrote into a ticket custom field."""
    if field_id is None:
        return None
    value = custom_field_value(custom_fields, str(field_id))
    return survey_score(value, f"custom_fields[id={field_id}]", score)
