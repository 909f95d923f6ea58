"""Write the XLSForm test spreadsheets with LibreOffice, the way an admin's office suite would.

The sheets are described below as plain rows, written as flat OpenDocument (.fods) and
converted to .xlsx by LibreOffice itself (``soffice --headless --convert-to xlsx``), so
the committed .xlsx files are LibreOffice's own output: its shared strings, its styles,
its number and date cells. Run it only to change a fixture (CI has no LibreOffice):

    .venv/bin/python -m tests.forms.xlsform.make_fixtures
"""

from __future__ import annotations

import datetime
import shutil
import subprocess
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

HERE = Path(__file__).resolve().parent
LANGS = ("English (en)", "Français (fr)", "中文 (zh)")


def _labels(base: str, *texts: str) -> dict:
    return {f"{base}::{lang}": text for lang, text in zip(LANGS, texts, strict=False) if text}


CHANGE_REQUEST_SURVEY = [
    {"type": "start", "name": "start"},
    {"type": "end", "name": "end"},
    {"type": "today", "name": "today"},
    {
        "type": "begin_group",
        "name": "requester",
        "appearance": "field-list",
        **_labels("label", "About you", "À propos de vous", "关于您"),
    },
    {
        "type": "note",
        "name": "welcome",
        **_labels(
            "label",
            "Tell us what should change; it takes a minute.",
            "Dites-nous ce qui doit changer ; cela prend une minute.",
            "请告诉我们需要变更的内容，只需一分钟。",
        ),
    },
    {
        "type": "text",
        "name": "full_name",
        "required": "yes",
        **_labels("label", "Your name", "Votre nom", "您的姓名"),
    },
    {
        "type": "text",
        "name": "email",
        "required": "yes",
        "constraint": r"regex(., '^[^@\s]+@[^@\s]+\.[^@\s]+$')",
        **_labels(
            "constraint_message",
            "Enter an e-mail address",
            "Saisissez une adresse e-mail",
            "请输入电子邮件地址",
        ),
        **_labels("label", "E-mail address", "Adresse e-mail", "电子邮件地址"),
    },
    {
        "type": "select_one organisation_type",
        "name": "org_type",
        "required": True,
        **_labels("label", "You are", "Vous êtes", "您是"),
    },
    {
        "type": "select_one country",
        "name": "country",
        "appearance": "minimal",
        **_labels("label", "Country", "Pays", "国家"),
    },
    {
        "type": "select_one city",
        "name": "city",
        "choice_filter": "country=${country}",
        **_labels("label", "City", "Ville", "城市"),
    },
    {"type": "end_group"},
    {
        "type": "begin_group",
        "name": "change",
        **_labels("label", "The change", "Le changement", "变更内容"),
    },
    {
        "type": "text",
        "name": "summary",
        "required": "yes",
        "constraint": "string-length(.) <= 120",
        **_labels("label", "Title", "Titre", "标题"),
        **_labels(
            "hint",
            "For example: add a CSV export",
            "Par exemple : ajouter un export CSV",
            "例如：增加 CSV 导出",
        ),
    },
    {
        "type": "text",
        "name": "description",
        "required": "yes",
        "appearance": "multiline",
        "constraint": "string-length(.) >= 10",
        **_labels("label", "What should change?", "Que faut-il changer ?", "需要变更什么？"),
    },
    {
        "type": "select_one reason",
        "name": "reason",
        "required": "yes",
        **_labels("label", "Reason", "Raison", "变更原因"),
    },
    {
        "type": "text",
        "name": "reason_other",
        "required": "yes",
        "relevant": "${reason} = 'other'",
        **_labels("label", "Which other reason?", "Quelle autre raison ?", "其他原因"),
    },
    {
        "type": "select_multiple systems",
        "name": "affected_systems",
        **_labels("label", "Affected systems", "Systèmes concernés", "受影响的系统"),
        **_labels(
            "hint", "Choose all that apply", "Choisissez tout ce qui s'applique", "选择所有适用项"
        ),
    },
    {
        "type": "text",
        "name": "crm_module",
        "relevant": "selected(${affected_systems}, 'crm')",
        **_labels("label", "Which CRM module?", "Quel module du CRM ?", "哪个 CRM 模块？"),
    },
    {
        "type": "select_one priority",
        "name": "priority",
        "default": "medium",
        **_labels("label", "How urgent is it?", "Quelle urgence ?", "紧急程度"),
    },
    {
        "type": "date",
        "name": "wanted_by",
        "relevant": "${priority} != 'low'",
        "constraint": ". >= date('2026-01-01')",
        **_labels("label", "Needed by", "Pour quand ?", "期望完成日期"),
    },
    {"type": "end_group"},
    {
        "type": "begin_group",
        "name": "cost",
        "relevant": "${reason} != 'legal'",
        **_labels("label", "Cost", "Coût", "成本"),
    },
    {
        "type": "decimal",
        "name": "budget",
        "constraint": ". >= 0 and . <= 1000000",
        **_labels("label", "Budget (EUR)", "Budget (EUR)", "预算（欧元）"),
    },
    {
        "type": "integer",
        "name": "people",
        "constraint": ". > 0",
        "default": 1,
        **_labels(
            "label", "How many people are affected?", "Combien de personnes ?", "影响多少人？"
        ),
    },
    {
        "type": "note",
        "name": "ccb_note",
        "relevant": "${budget} > 5000",
        **_labels(
            "label",
            "Changes over 5,000 EUR go to the change control board.",
            "Au-delà de 5 000 EUR, le comité des changements décide.",
            "超过 5,000 欧元的变更由变更控制委员会决定。",
        ),
    },
    {
        "type": "text",
        "name": "ccb_reason",
        "relevant": "${budget} > 5000 and ${priority} = 'high'",
        **_labels(
            "label",
            "Why should the board hurry?",
            "Pourquoi le comité doit-il se hâter ?",
            "为什么委员会需要加急？",
        ),
    },
    {"type": "end_group"},
    {
        "type": "begin_group",
        "name": "feedback",
        **_labels("label", "Your feedback", "Votre avis", "您的反馈"),
    },
    {
        "type": "select_one yes_no",
        "name": "contacted_before",
        **_labels(
            "label",
            "Have you asked us before?",
            "Nous avez-vous déjà sollicités ?",
            "您以前联系过我们吗？",
        ),
    },
    {
        "type": "integer",
        "name": "satisfaction",
        "constraint": ". >= 1 and . <= 5",
        **_labels(
            "label",
            "How satisfied are you (1 to 5)?",
            "Votre satisfaction (1 à 5) ?",
            "满意度（1 到 5）？",
        ),
    },
    {
        "type": "acknowledge",
        "name": "consent",
        "required": "yes",
        **_labels(
            "label",
            "I agree that my answers are stored",
            "J'accepte que mes réponses soient conservées",
            "我同意保存我的回答",
        ),
    },
    {
        "type": "image",
        "name": "screenshot",
        **_labels("label", "A screenshot, if you have one", "Une capture d'écran", "截图（如有）"),
    },
    {
        "type": "geopoint",
        "name": "location",
        **_labels("label", "Where are you?", "Où êtes-vous ?", "您在哪里？"),
    },
    {
        "type": "calculate",
        "name": "budget_band",
        "calculation": "if(${budget} > 5000, 'high', 'low')",
    },
    {
        "type": "text",
        "name": "band_comment",
        "relevant": "${budget_band} = 'high'",
        **_labels(
            "label",
            "Anything the board should know?",
            "Un mot pour le comité ?",
            "需要告诉委员会的事项？",
        ),
    },
    {"type": "end_group"},
]

CHANGE_REQUEST_CHOICES = [
    {
        "list_name": "organisation_type",
        "name": "customer",
        **_labels("label", "A customer", "Un client", "客户"),
    },
    {
        "list_name": "organisation_type",
        "name": "partner",
        **_labels("label", "A partner", "Un partenaire", "合作伙伴"),
    },
    {
        "list_name": "organisation_type",
        "name": "internal",
        **_labels("label", "A colleague", "Un collègue", "内部同事"),
    },
    {"list_name": "country", "name": "fr", **_labels("label", "France", "France", "法国")},
    {"list_name": "country", "name": "cn", **_labels("label", "China", "Chine", "中国")},
    {
        "list_name": "city",
        "name": "paris",
        "country": "fr",
        **_labels("label", "Paris", "Paris", "巴黎"),
    },
    {
        "list_name": "city",
        "name": "shanghai",
        "country": "cn",
        **_labels("label", "Shanghai", "Shanghai", "上海"),
    },
    {
        "list_name": "reason",
        "name": "business",
        **_labels("label", "A business need", "Un besoin métier", "业务需要"),
    },
    {
        "list_name": "reason",
        "name": "legal",
        **_labels("label", "Law or regulation", "Loi ou réglementation", "法律法规"),
    },
    {"list_name": "reason", "name": "other", **_labels("label", "Other", "Autre", "其他")},
    {"list_name": "systems", "name": "website", **_labels("label", "Website", "Site web", "网站")},
    {"list_name": "systems", "name": "erp", **_labels("label", "ERP", "ERP", "ERP")},
    {"list_name": "systems", "name": "crm", **_labels("label", "CRM", "CRM", "CRM")},
    {"list_name": "priority", "name": "low", **_labels("label", "Low", "Faible", "低")},
    {"list_name": "priority", "name": "medium", **_labels("label", "Medium", "Moyenne", "中")},
    {"list_name": "priority", "name": "high", **_labels("label", "High", "Haute", "高")},
    {"list_name": "yes_no", "name": 1, **_labels("label", "Yes", "Oui", "是")},
    {"list_name": "yes_no", "name": 0, **_labels("label", "No", "Non", "否")},
]

CHANGE_REQUEST_SETTINGS = [
    {
        "form_title": "Change request",
        "form_id": "change_request",
        "version": 2026110101,
        "default_language": "English (en)",
        "instance_name": "concat(${summary}, ' - ', ${full_name})",
    },
]

EVERY_TYPE_SURVEY = [
    {"type": "text", "name": "a_text", "label": "Text", "hint": "One line", "default": "hello"},
    {"type": "text", "name": "a_textarea", "label": "Long text", "appearance": "multiline"},
    {
        "type": "integer",
        "name": "an_integer",
        "label": "Integer",
        "constraint": ". >= 0 and . <= 100",
        "default": 5,
    },
    {"type": "decimal", "name": "a_decimal", "label": "Decimal", "constraint": ". > 0"},
    {"type": "range", "name": "a_range", "label": "Range", "parameters": "start=1 end=10 step=1"},
    {
        "type": "date",
        "name": "a_date",
        "label": "Date",
        "default": datetime.date(2026, 1, 31),
        "constraint": ". <= date('2026-12-31')",
    },
    {"type": "time", "name": "a_time", "label": "Time"},
    {"type": "dateTime", "name": "a_datetime", "label": "Date and time"},
    {
        "type": "select_one colours",
        "name": "a_select",
        "label": "Select",
        "appearance": "minimal",
        "default": "red",
    },
    {"type": "select_one colours", "name": "a_radio", "label": "Radio", "required": True},
    {
        "type": "select_multiple colours",
        "name": "a_multiselect",
        "label": "Multiselect",
        "default": "red blue",
    },
    {"type": "note", "name": "a_note", "label": "A note between questions", "hint": "Read me"},
    {"type": "acknowledge", "name": "an_acknowledge", "label": "Acknowledge"},
    {"type": "image", "name": "an_image", "label": "Image"},
    {"type": "file", "name": "a_file", "label": "File"},
    {"type": "audio", "name": "an_audio", "label": "Audio"},
    {"type": "barcode", "name": "a_barcode", "label": "Barcode"},
    {
        "type": "text",
        "name": "a_pattern",
        "label": "Contains a digit",
        "constraint": "regex(., '[0-9]')",
    },
    {
        "type": "text",
        "name": "a_slow_pattern",
        "label": "Slow pattern",
        "constraint": "regex(., '^(a+)+$')",
    },
    {
        "type": "text",
        "name": "a_length",
        "label": "Length",
        "constraint": "string-length(.) >= 2 and string-length(.) <= 5",
    },
    {
        "type": "text",
        "name": "a_cross_check",
        "label": "Cross check",
        "constraint": ". != ${a_text}",
    },
    {"type": "text", "name": "Bad-Name", "label": "Renamed"},
    {
        "type": "text",
        "name": "a_required_if",
        "label": "Required if",
        "required": "${a_text} = 'x'",
    },
    {
        "type": "text",
        "name": "an_arithmetic",
        "label": "Arithmetic",
        "relevant": "${an_integer} + 1 > 5",
    },
    {
        "type": "text",
        "name": "a_visible",
        "label": "Visible",
        "relevant": "${an_integer} > 10 or selected(${a_multiselect}, 'green')",
    },
    {"type": "geopoint", "name": "a_geopoint", "label": "Geopoint"},
    {"type": "geotrace", "name": "a_geotrace", "label": "Geotrace"},
    {"type": "geoshape", "name": "a_geoshape", "label": "Geoshape"},
    {"type": "calculate", "name": "a_calculate", "calculation": "1 + 1"},
    {"type": "hidden", "name": "a_hidden"},
    {"type": "rank colours", "name": "a_rank", "label": "Rank"},
    {"type": "select_one_from_file cities.csv", "name": "a_from_file", "label": "From file"},
    {"type": "begin_repeat", "name": "a_repeat", "label": "Repeat"},
    {"type": "text", "name": "in_repeat", "label": "In the repeat"},
    {"type": "end_repeat"},
    {"type": "start", "name": "start"},
    {"type": "deviceid", "name": "deviceid"},
    {"type": "colour_picker", "name": "a_colour", "label": "Unknown type"},
]

EVERY_TYPE_CHOICES = [
    {"list_name": "colours", "name": "red", "label": "Red"},
    {"list_name": "colours", "name": "green", "label": "Green"},
    {"list_name": "colours", "name": "blue", "label": "Blue"},
]

EVERY_TYPE_SETTINGS = [{"form_title": "Every type", "form_id": "every-type"}]

FIXTURES = {
    "change_request": (CHANGE_REQUEST_SURVEY, CHANGE_REQUEST_CHOICES, CHANGE_REQUEST_SETTINGS),
    "every_type": (EVERY_TYPE_SURVEY, EVERY_TYPE_CHOICES, EVERY_TYPE_SETTINGS),
}


def _cell(value) -> str:
    if value is None or value == "":
        return "<table:table-cell/>"
    if isinstance(value, bool):
        text = "TRUE" if value else "FALSE"
        return (
            f'<table:table-cell office:value-type="boolean" office:boolean-value='
            f'"{str(value).lower()}"><text:p>{text}</text:p></table:table-cell>'
        )
    if isinstance(value, int | float):
        return (
            f'<table:table-cell office:value-type="float" office:value="{value}">'
            f"<text:p>{value}</text:p></table:table-cell>"
        )
    if isinstance(value, datetime.date):
        return (
            f'<table:table-cell office:value-type="date" office:date-value='
            f'"{value.isoformat()}"><text:p>{value.isoformat()}</text:p></table:table-cell>'
        )
    return (
        f'<table:table-cell office:value-type="string"><text:p>{escape(str(value))}'
        f"</text:p></table:table-cell>"
    )


def _table(name: str, rows: list[dict]) -> str:
    header: list[str] = []
    for row in rows:
        header += [key for key in row if key not in header]
    lines = [f"<table:table table:name={quoteattr(name)}>"]
    lines.append("<table:table-row>" + "".join(_cell(h) for h in header) + "</table:table-row>")
    for row in rows:
        lines.append(
            "<table:table-row>" + "".join(_cell(row.get(h)) for h in header) + "</table:table-row>"
        )
    lines.append("</table:table>")
    return "\n".join(lines)


def fods(survey: list[dict], choices: list[dict], settings: list[dict]) -> str:
    tables = "\n".join(
        _table(name, rows)
        for name, rows in (("survey", survey), ("choices", choices), ("settings", settings))
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.spreadsheet">
<office:body><office:spreadsheet>
{tables}
</office:spreadsheet></office:body></office:document>
"""


def main() -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise SystemExit("LibreOffice is needed: apt-get install -y libreoffice-calc")
    with tempfile.TemporaryDirectory() as folder:
        sources = []
        for name, sheets in FIXTURES.items():
            source = Path(folder) / f"{name}.fods"
            source.write_text(fods(*sheets), encoding="utf-8")
            sources.append(str(source))
        subprocess.run(
            [soffice, "--headless", "--convert-to", "xlsx", "--outdir", str(HERE), *sources],
            check=True,
            timeout=300,
        )


if __name__ == "__main__":
    main()
