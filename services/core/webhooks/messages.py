"""What an institution's steward reads when its webhook endpoint is disabled by delivery: in Chinese
(English by locale), in China time, naming the institution and the endpoint's host — never an id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.core.notifications.templates import china_time, register

DISABLED = "webhook.disabled"

_WHY_ZH = {"gone": "接收方答复 410(已不再接收)", "exhausted": "同一条消息按重试计划多次投递均失败"}
_WHY_EN = {"gone": "the receiver answered 410 Gone", "exhausted": "one message failed every retry of the schedule"}


def _zh(p: Mapping[str, Any]) -> tuple[str, str]:
    institution = p.get("institution") or "本机构"
    host = p.get("host") or "—"
    why = _WHY_ZH.get(str(p.get("reason")), "投递失败")
    return (
        "转诊消息推送(Webhook)已停用",
        f"{institution}的接收地址 {host} 于 {china_time(p.get('at'))} 停用:{why}。"
        "停用期间的转诊变更会保留;请联系信息科修复接收服务后重新启用,保留的消息将全部补发。",
    )


def _en(p: Mapping[str, Any]) -> tuple[str, str]:
    institution = p.get("institution") or "your institution"
    host = p.get("host") or "-"
    why = _WHY_EN.get(str(p.get("reason")), "deliveries failed")
    return (
        "Referral webhooks disabled",
        f"The endpoint {host} of {institution} was disabled at {china_time(p.get('at'), 'en')}: {why}. "
        "Referral changes are kept meanwhile; once the receiver is fixed, re-enable it and they are all sent.",
    )


register(DISABLED, zh=_zh, en=_en)
