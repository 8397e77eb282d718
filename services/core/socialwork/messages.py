"""What social-work notifications say, in Chinese and English: what happened or is due, which
department, by when (China time). Never a client's name, never an id, never a note's text.

Templates tolerate missing parameters (a test renders every registered template with a generic sample).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.core.notifications.templates import Lang, china_time, register

CASE = "socialwork.case"
TRANSFER = "socialwork.transfer"

_CASE_EVENTS = {
    "plan_submitted": (
        "个案服务计划待审批",
        "请审核服务计划,批准后计划生效。",
        "A case plan awaits your approval",
        "Please review the plan; it takes effect once approved.",
    ),
    "plan_approved": (
        "个案服务计划已批准",
        "服务计划已生效,请按计划开展服务。",
        "Case plan approved",
        "The plan is in effect.",
    ),
    "plan_sent_back": (
        "个案服务计划被退回",
        "督导已退回服务计划,请查看意见后修改。",
        "Case plan sent back",
        "Your supervisor sent the plan back; see the comments.",
    ),
    "closure_requested": (
        "结案申请待审批",
        "请审核结案评估。",
        "A case closure awaits your approval",
        "Please review the closing evaluation.",
    ),
    "closure_approved": ("结案已批准", "个案已结案。", "Case closure approved", "The case is closed."),
    "closure_sent_back": (
        "结案申请被退回",
        "督导已退回结案申请,个案继续服务。",
        "Case closure sent back",
        "Your supervisor sent the closure back; the case stays active.",
    ),
    "assigned": (
        "您被指派为个案社工",
        "请打开应用查看个案。",
        "You were assigned to a case",
        "Open the app to see the case.",
    ),
}
_TRANSFER_EVENTS = {
    "offered": (
        "出院患者社工转介待接收",
        "医院社工部转介一位出院患者至社区,请接收(出具转接回执)或说明原因退回。",
        "A discharged patient is handed to your community",
        "Accept it (a receipt is issued) or decline with a reason.",
    ),
    "accepted": (
        "社区已接收转介",
        "社区已出具转接回执,请留意后续随访。",
        "The community accepted the transfer",
        "A receipt was issued; the follow-up clock has started.",
    ),
    "declined": (
        "社区退回转介",
        "社区未接收本次转介,请查看原因并另行安排。",
        "The community declined the transfer",
        "See the reason and arrange otherwise.",
    ),
}
_DUE = {
    "socialwork.task_due": ("个案服务计划任务", "a case plan task"),
    "socialwork.transfer_follow_up": ("出院转介患者随访", "the follow-up of a transferred patient"),
}


def _t(
    p: Mapping[str, Any], key: str, lang: Lang, zh: str = "社会工作部", en: str = "the social-work department"
) -> str:
    value = p.get(key)
    if value is None or value == "":
        return zh if lang == "zh" else en
    return str(value)


def _event(table: Mapping[str, tuple[str, str, str, str]], default: str, lang: Lang) -> Any:
    def render(p: Mapping[str, Any]) -> tuple[str, str]:
        zh_title, zh_body, en_title, en_body = table.get(str(p.get("event")), table[default])
        where = _t(p, "department", lang)
        if lang == "zh":
            return zh_title, f"{where}:{zh_body}"
        return en_title, f"{where}: {en_body}"

    return render


def _due(lang: Lang) -> Any:
    def render(p: Mapping[str, Any]) -> tuple[str, str]:
        zh_what, en_what = _DUE.get(str(p.get("what")), _DUE["socialwork.task_due"])
        due = china_time(p.get("due_at"), lang)
        where = _t(p, "department", lang)
        step = str(p.get("step") or "")
        if lang == "zh":
            if step == "reminder":
                return f"提醒:{zh_what}将于{due}到期", f"{where}:{zh_what}应于 {due} 前完成。"
            return f"已超时:{zh_what}(应于{due}完成)", f"{where}:{zh_what}已超时,请尽快处理。"
        if step == "reminder":
            return f"Reminder: {en_what} due {due}", f"{where}: {en_what} is due {due}."
        return f"Overdue: {en_what} (was due {due})", f"{where}: {en_what} is overdue; please act now."

    return render


register(CASE, zh=_event(_CASE_EVENTS, "assigned", "zh"), en=_event(_CASE_EVENTS, "assigned", "en"))
register(TRANSFER, zh=_event(_TRANSFER_EVENTS, "offered", "zh"), en=_event(_TRANSFER_EVENTS, "offered", "en"))
for _kind in _DUE:
    register(_kind, zh=_due("zh"), en=_due("en"))
