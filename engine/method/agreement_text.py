"""Step 5: the words of the purchase agreement (购买服务协议).

Each town keeps its own text (table ``agreement_templates``; the default below until the
administrator changes it). ``${name}`` places in it are filled from the agreement's content
when the agreement is drafted, and the filled text becomes part of the sealed content: what
both sides sign is exactly the text they read, whatever the template says later.

A line starting with ``# `` is the title, ``## `` a clause heading; other lines are paragraphs.
"""
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from string import Template
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.forms import is_object
from engine.core.models import Town
from engine.errors import NotFoundError, Text, ValidationError
from engine.method.models import AgreementTemplate
from engine.method.numerals import capital_amount

# Every place a template may use; the web page explains each.
PLACES = ("number", "purchaser", "contractor", "credit_code", "community", "project", "service_item",
          "service_field", "goals", "expected_effect", "phases", "amount", "amount_capital", "installments",
          "acceptance_criteria", "term_start", "term_end")
# What no agreement may leave out: who, how much (in figures and capitals), when paid, how accepted.
REQUIRED_PLACES = ("purchaser", "contractor", "credit_code", "amount", "amount_capital", "installments",
                   "acceptance_criteria")
MAX_LENGTH = 20_000
INSTALLMENT_WORDS = {"on_signing": "协议签订后", "on_acceptance": "项目验收合格后"}
ORDINALS = "一二三四五六七八九十"
# The document is Chinese whatever the reader's language: the service fields in its words.
FIELD_WORDS = {"elderly": "养老服务", "youth": "青少年与儿童服务", "women": "妇女与家庭服务",
               "vulnerable": "困难群体与残疾人服务", "mediation": "矛盾纠纷调解", "culture": "社区文化",
               "other": "其他社区服务"}
PURCHASER_SUFFIX = {"town": "人民政府", "subdistrict": "办事处"}

DEFAULT_TEMPLATE = """# 购买服务协议
协议编号：${number}
甲方（购买方）：${purchaser}
乙方（承接方）：${contractor}
乙方统一社会信用代码：${credit_code}
为推进“三社联动”，由政府向社会组织购买社区公共服务，经${community}居民代表会议表决通过、甲方审核同意，甲乙双方本着平等自愿、诚实信用的原则，就“${project}”项目订立本协议。
## 第一条　服务内容
服务事项：${service_item}（${service_field}）。
项目目标：${goals}
预期效果：${expected_effect}
实施阶段与步骤（以居民代表会议表决通过的项目申请书为准）：
${phases}
## 第二条　服务期限
自${term_start}起至${term_end}止。
## 第三条　服务金额
本协议服务金额为人民币${amount}元（大写：${amount_capital}），包括乙方完成本协议服务所需的全部费用，专款专用。
## 第四条　付款方式和条件
${installments}
甲方在每期付款条件满足后十五个工作日内将款项拨付至乙方账户。
## 第五条　验收标准
${acceptance_criteria}
服务期满，乙方提交自评估报告（社会工作项目另附社会工作案例），由社区居委会组织评议小组进行第三方评估和验收；被评估的社会组织回避，服务对象原则上不参与评议。
## 第六条　甲方的权利和义务
1. 按本协议约定按时足额拨付服务资金。
2. 协调社区为乙方开展服务提供场地、信息等必要支持。
3. 对服务的实施进度、质量和资金使用进行监督检查，组织评估验收。
## 第七条　乙方的权利和义务
1. 按照经表决通过的项目申请书组织实施服务，不得转包。
2. 定期报告项目进展，接受甲方、社区居委会和社会工作督导的监督指导。
3. 专款专用，按规定管理和使用项目资金，保护服务对象的个人信息。
4. 按要求提交自评估报告，配合第三方评估和验收。
## 第八条　违约责任
任何一方未履行本协议约定的，应当及时纠正；给对方造成损失的，依法承担赔偿责任。乙方未通过验收的，应当在甲方规定的期限内整改；整改后仍未通过的，甲方可以不予拨付尾款。
## 第九条　争议解决
履行本协议发生争议的，双方应当协商解决，可以请社区事务协调会调解；协商、调解不成的，任何一方可以向甲方所在地有管辖权的人民法院提起诉讼。
## 第十条　其他
本协议自双方签署之日起生效。未尽事宜，双方可以另行签订补充协议，补充协议与本协议具有同等效力。
"""


def check_template(body: str) -> str:
    """The template as it will be stored (line ends made plain); ValidationError when it uses
    an unknown place, a ``$`` that starts no place, leaves out a required place or is too long."""
    body = body.replace("\r\n", "\n").strip() + "\n"
    if len(body) > MAX_LENGTH:
        raise ValidationError(Text("The text is longer than %(max)s characters.", max=MAX_LENGTH),
                              errors={"body": [Text("At most %(max)s characters.", max=MAX_LENGTH)]})
    template = Template(body)
    if not template.is_valid():
        raise ValidationError("A $ sign starts no place. Write $$ for the sign itself.",
                              errors={"body": ["Places are written ${name}."]})
    used = set(template.get_identifiers())
    unknown = sorted(used - set(PLACES))
    if unknown:
        raise ValidationError(Text("Unknown places: %(names)s.", names=", ".join(unknown)),
                              errors={"body": unknown})
    missing = [name for name in REQUIRED_PLACES if name not in used]
    if missing:
        raise ValidationError(Text("The agreement must contain: %(names)s.", names=", ".join(missing)),
                              errors={"body": missing})
    return body


def template_for(session: Session, town_id: int) -> str:
    """The town's agreement text, or the default one."""
    row = session.scalar(select(AgreementTemplate).where(AgreementTemplate.town_id == town_id))
    return row.body if row is not None else DEFAULT_TEMPLATE


def stored_template(session: Session, town_id: int) -> AgreementTemplate | None:
    """The town's own text (None while it uses the default)."""
    return session.scalar(select(AgreementTemplate).where(AgreementTemplate.town_id == town_id))


def set_template(session: Session, town_id: int, body: str, username: str, now: datetime) -> AgreementTemplate | None:
    """Store the town's text after ``check_template``; the default text (or an empty one)
    removes the town's own, so the town follows the default again. Agreements already
    drafted keep their text."""
    row = stored_template(session, town_id)
    if not body.strip() or body.replace("\r\n", "\n").strip() == DEFAULT_TEMPLATE.strip():
        if row is not None:
            session.delete(row)
            session.flush()
        return None
    body = check_template(body)
    if row is None:
        row = AgreementTemplate(town_id=town_id, body=body, updated_by=username, updated_at=now)
        session.add(row)
    else:
        row.body, row.updated_by, row.updated_at = body, username, now
    session.flush()
    return row


def chinese_date(iso: str) -> str:
    """``2026-11-30`` -> ``2026年11月30日`` (the text as given when it is not a date)."""
    try:
        day = date.fromisoformat(iso)
    except (TypeError, ValueError):
        return iso or ""
    return f"{day.year}年{day.month}月{day.day}日"


def money(fen: int) -> str:
    """Fen as yuan with thousands separated: 7600000 -> ``76,000.00``."""
    return f"{fen // 100:,}.{fen % 100:02d}"


def _ordinal(number: int) -> str:
    return ORDINALS[number - 1] if 0 < number <= len(ORDINALS) else str(number)


def _percent(value: Any) -> str:
    """``30.00`` -> ``30``, ``33.33`` stays."""
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    return f"{number.normalize():f}" if number == number.to_integral() else f"{number:f}"


def _phases(phases: Any) -> str:
    if isinstance(phases, str):
        return phases.strip() or "（见项目申请书）"
    lines: list[str] = []
    listed: Iterable[Any] = phases or []
    for number, phase in enumerate(listed, start=1):
        if not is_object(phase):
            continue
        when = ""
        if phase.get("start") or phase.get("end"):
            when = f"（{chinese_date(phase.get('start', ''))}至{chinese_date(phase.get('end', ''))}）"
        lines.append(f"{number}. {phase.get('phase', '')}{when}：{phase.get('activities', '')}")
    return "\n".join(lines) or "（见项目申请书）"


def _part(content: dict[str, Any], key: str) -> dict[str, Any]:
    """A nested object of the content (service, term, a party), empty when absent."""
    return content.get(key) or {}


def values_of(content: dict[str, Any]) -> dict[str, str]:
    """The text of every place, from an agreement's content."""
    service = _part(content, "service")
    rows: Iterable[dict[str, Any]] = content.get("installments") or []
    installments: list[str] = []
    for row in rows:
        condition = INSTALLMENT_WORDS.get(row.get("label", ""), row.get("label", ""))
        installments.append(f"第{_ordinal(row['no'])}期：{condition}支付人民币{money(row['amount_fen'])}元"
                            f"（大写：{capital_amount(row['amount_fen'])}），占服务金额的{_percent(row.get('percent', ''))}%。")
    listed: Iterable[Any] = content.get("acceptance_criteria") or []
    criteria = [f"{number}. {text}" for number, text in enumerate(listed, start=1)]
    term = _part(content, "term")
    values: dict[str, Any] = {
        "number": content.get("number", ""),
        "purchaser": _part(content, "purchaser").get("name", ""),
        "contractor": _part(content, "contractor").get("name", ""),
        "credit_code": _part(content, "contractor").get("credit_code") or "（未登记）",
        "community": _part(content, "community").get("name", ""),
        "project": content.get("project_title") or str(content.get("title", "")).removeprefix("Purchase agreement: "),
        "service_item": service.get("item", ""),
        "service_field": FIELD_WORDS.get(service.get("service_field", ""), service.get("service_field", "")),
        "goals": service.get("goals", "") or "（见项目申请书）",
        "expected_effect": service.get("expected_effect", "") or "（见项目申请书）",
        "phases": _phases(service.get("phases")),
        "amount": money(content.get("amount_fen", 0)),
        "amount_capital": capital_amount(content.get("amount_fen", 0)),
        "installments": "\n".join(installments),
        "acceptance_criteria": "\n".join(criteria),
        "term_start": chinese_date(term.get("start", "")),
        "term_end": chinese_date(term.get("end", "")),
    }
    return {name: "" if value is None else str(value) for name, value in values.items()}


def render(body: str, content: dict[str, Any]) -> str:
    """The template filled from the agreement's content."""
    return Template(body).safe_substitute(values_of(content))


def blocks(text: str) -> list[dict[str, str]]:
    """The text as blocks to lay out: ``{"kind": "title" | "heading" | "para", "text": ...}``."""
    result: list[dict[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("## "):
            result.append({"kind": "heading", "text": line[3:].strip()})
        elif line.startswith("# "):
            result.append({"kind": "title", "text": line[2:].strip()})
        else:
            result.append({"kind": "para", "text": line})
    return result


def towns_and_templates(session: Session) -> list[tuple[Town, AgreementTemplate | None]]:
    """Every town with its own agreement text (None: it uses the default), by name."""
    own = {row.town_id: row for row in session.scalars(select(AgreementTemplate))}
    return [(town, own.get(town.id)) for town in session.scalars(select(Town).order_by(Town.name))]


def town(session: Session, town_id: int) -> Town:
    """The town, or NotFoundError."""
    found = session.get(Town, town_id)
    if found is None:
        raise NotFoundError(Text("Town %(id)s does not exist.", id=town_id))
    return found
