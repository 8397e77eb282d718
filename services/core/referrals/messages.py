"""What referral notifications say, in Chinese and English: one template per kind, times in China
time, naming the two institutions and what is due — never an id, never clinical text.

Templates tolerate missing parameters (a test renders every registered template with a generic sample).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.core.notifications.templates import Lang, china_time, register

_WHAT = {
    "referral.receive": ("接收转诊申请", "receive the referral"),
    "referral.decide": ("答复转诊申请", "accept or decline the referral"),
    "referral.no_show": ("确认患者到诊", "confirm the patient's arrival"),
    "referral.take_over": ("承接下转患者", "take over the referred patient"),
    "referral.follow_up": ("下转患者首次随访", "follow up the referred patient"),
}
_DIRECTION = {"upward": ("上转", "upward"), "downward": ("下转", "downward")}


def _t(p: Mapping[str, Any], key: str, lang: Lang, zh: str = "—", en: str = "-") -> str:
    value = p.get(key)
    if value is None or value == "":
        return zh if lang == "zh" else en
    return str(value)


def _route(p: Mapping[str, Any], lang: Lang) -> str:
    source, target = (
        _t(p, "from_name", lang, "转出机构", "the referring side"),
        _t(p, "to_name", lang, "接收机构", "the receiving side"),
    )
    return f"{source} → {target}"


def _requested(lang: Lang) -> Any:
    def render(p: Mapping[str, Any]) -> tuple[str, str]:
        direction = _DIRECTION.get(str(p.get("direction")), _DIRECTION["upward"])
        due = china_time(p.get("due_at"), lang)
        if lang == "zh":
            urgent = "【紧急】" if p.get("urgent") else ""
            signed = "(签约居民,优先预约)" if p.get("priority") else ""
            if p.get("direction") == "downward":
                return f"{urgent}医院下转患者待承接", f"{_route(p, lang)}:请于 {due} 前承接,出院后 48 小时内首次随访。"
            return f"{urgent}新的{direction[0]}申请{signed}", f"{_route(p, lang)}:请于 {due} 前接收,24 小时内答复。"
        urgent = "[URGENT] " if p.get("urgent") else ""
        signed = " (signed resident: priority booking)" if p.get("priority") else ""
        if p.get("direction") == "downward":
            return (
                f"{urgent}A hospital referred a patient down to your team",
                f"{_route(p, lang)}: take over by {due}; first follow-up within 48 h of discharge.",
            )
        return (
            f"{urgent}New {direction[1]} referral{signed}",
            f"{_route(p, lang)}: receive by {due}, answer within 24 h.",
        )

    return render


def _accepted(lang: Lang) -> Any:
    def render(p: Mapping[str, Any]) -> tuple[str, str]:
        at, where = china_time(p.get("appointment_at"), lang), _t(p, "where", lang, "", "")
        if lang == "zh":
            return "上转申请已接受", f"{_route(p, lang)}:预约 {at} {where}。请通知患者按时就诊。".replace("  ", " ")
        return "Referral accepted", f"{_route(p, lang)}: appointment {at} {where}. Please tell the patient.".replace(
            "  ", " "
        )

    return render


def _simple(zh_title: str, zh_body: str, en_title: str, en_body: str) -> tuple[Any, Any]:
    def zh(p: Mapping[str, Any]) -> tuple[str, str]:
        return zh_title, f"{_route(p, 'zh')}:" + zh_body.format(reason=_t(p, "reason", "zh"))

    def en(p: Mapping[str, Any]) -> tuple[str, str]:
        return en_title, f"{_route(p, 'en')}: " + en_body.format(reason=_t(p, "reason", "en"))

    return zh, en


def _step(lang: Lang) -> Any:
    def render(p: Mapping[str, Any]) -> tuple[str, str]:
        what = _WHAT.get(str(p.get("what")), ("转诊事项", "the referral's next step"))
        due, step = china_time(p.get("due_at"), lang), str(p.get("step") or "")
        if lang == "zh":
            if p.get("what") == "referral.no_show":
                return "转诊患者未按预约到诊", f"{_route(p, lang)}:预约后一天仍未登记到诊,请联系患者核实。"
            if step == "reminder":
                return f"转诊提醒:请于 {due} 前{what[0]}", f"{_route(p, lang)}:{what[0]},时限 {due}。"
            label = "转诊超时" if step == "breach" else "转诊超时升级"
            return f"{label}:{what[0]}已超时(应于 {due} 前完成)", f"{_route(p, lang)}:请登录系统查看详情。"
        if p.get("what") == "referral.no_show":
            return (
                "Referred patient did not arrive",
                f"{_route(p, lang)}: no arrival recorded a day after the appointment.",
            )
        if step == "reminder":
            return f"Referral reminder: {what[1]} by {due}", f"{_route(p, lang)}: {what[1]}, due {due}."
        label = "Referral overdue" if step == "breach" else "Referral overdue (escalated)"
        return f"{label}: {what[1]} was due {due}", f"{_route(p, lang)}: open the app for details."

    return render


register("referral.requested", zh=_requested("zh"), en=_requested("en"))
register("referral.accepted", zh=_accepted("zh"), en=_accepted("en"))
_declined = _simple("转诊申请未被接受", "原因 {reason}。", "Referral declined", "reason {reason}.")
register("referral.declined", zh=_declined[0], en=_declined[1])
_no_show = _simple(
    "转诊患者未到诊", "患者未按预约到诊,请联系患者。", "Patient did not arrive", "please contact the patient."
)
register("referral.no_show", zh=_no_show[0], en=_no_show[1])
_completed = _simple(
    "上转患者诊疗结束", "接诊医院已完成诊疗。", "Referral completed", "the hospital has completed care."
)
register("referral.completed", zh=_completed[0], en=_completed[1])
_cancelled = _simple("转诊已撤销", "已撤销,原因:{reason}", "Referral cancelled", "cancelled: {reason}")
register("referral.cancelled", zh=_cancelled[0], en=_cancelled[1])
register("referral.step", zh=_step("zh"), en=_step("en"))

TEMPLATES = (
    "referral.requested",
    "referral.accepted",
    "referral.declined",
    "referral.no_show",
    "referral.completed",
    "referral.cancelled",
    "referral.step",
)
