"""The built-in field types, registered through the same hook as any plug-in's."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import wtforms
from babel.numbers import get_currency_name
from flask_babel import format_currency, format_date, format_decimal
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from wtforms import validators as v

from portal import hookimpl
from portal.forms.definition import FieldDef, FieldTypeRules, localize
from portal.forms.field_types import DisplayContext, EntryContext, FieldType
from portal.forms.patterns import compile_pattern

REQUIRED = _l("This field is required.")
PHONE_CHARACTERS = set("0123456789+-() ./")

# -- shared validators ----------------------------------------------------------------------


def _presence(field: FieldDef) -> list:
    return [v.InputRequired(message=REQUIRED)] if field.required else [v.Optional()]


def _length(field: FieldDef) -> list:
    if field.min_length is None and field.max_length is None:
        return []
    low, high = field.min_length or 0, field.max_length
    if high is None:
        message = _l("Enter at least %(min)d characters.", min=low)
    elif low:
        message = _l("Enter between %(min)d and %(max)d characters.", min=low, max=high)
    else:
        message = _l("Enter at most %(max)d characters.", max=high)
    return [v.Length(min=low, max=high if high is not None else -1, message=message)]


class MatchesPattern:
    """Refuses text that does not match the field's pattern (run by RE2, in linear time)."""

    def __init__(self, pattern: str):
        self.regex = compile_pattern(pattern)

    def __call__(self, form, field) -> None:  # noqa: ANN001
        if field.data and not self.regex.fullmatch(field.data):
            raise v.ValidationError(_l("Enter a value in the expected format."))


def _pattern(field: FieldDef) -> list:
    return [MatchesPattern(field.pattern)] if field.pattern else []


def _number_range(field: FieldDef, low: Any = None, high: Any = None) -> list:
    low = field.min if field.min is not None else low
    high = field.max if field.max is not None else high
    if low is None and high is None:
        return []
    if low is not None and high is not None:
        message = _l("Enter a number from %(min)s to %(max)s.", min=low, max=high)
    elif low is not None:
        message = _l("Enter a number of at least %(min)s.", min=low)
    else:
        message = _l("Enter a number of at most %(max)s.", max=high)
    return [InRange(min=low, max=high, message=message)]


class InRange(v.NumberRange):
    """NumberRange that leaves a value that is not a number to the field's own message."""

    def __call__(self, form, field) -> None:  # noqa: ANN001
        if field.data is not None and not field.process_errors:
            super().__call__(form, field)


def _text(texts, ctx) -> str:  # noqa: ANN001
    return localize(texts, ctx.locale, ctx.default_language)


def _kwargs(
    field: FieldDef, label: str, ctx: EntryContext, validators: list, default: Any = None, **extra
) -> dict:
    """The field's label, validators and default answer (``default``: the definition's
    default already turned into what the WTForms field holds, when it differs)."""
    kwargs = {"label": label, "validators": validators, **extra}
    if default is not None:
        kwargs["default"] = default
    elif field.default is not None:
        kwargs["default"] = field.default
    return kwargs


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _plain_number(value: Decimal) -> int | str:
    """Store whole numbers as integers and others as exact decimal strings."""
    return int(value) if value == value.to_integral_value() else str(value.normalize())


# -- text-like types --------------------------------------------------------------------------


class TextType(FieldType):
    rules = FieldTypeRules("text", text=True)
    field_class = wtforms.StringField

    def make_field(self, field, label, ctx):
        validators = _presence(field) + _length(field) + _pattern(field) + self.extra_validators()
        return self.field_class(**_kwargs(field, label, ctx, validators, filters=[_strip]))

    def extra_validators(self) -> list:
        return []


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class TextareaType(TextType):
    rules = FieldTypeRules("textarea", text=True)
    widget = "textarea"
    field_class = wtforms.TextAreaField


class EmailType(TextType):
    rules = FieldTypeRules("email", text=True)
    input_type = "email"
    inputmode = "email"
    autocomplete = "email"
    field_class = wtforms.EmailField

    def extra_validators(self):
        return [v.Email(message=_l("Enter an e-mail address like name@example.com."))]


class PhoneNumber:
    def __call__(self, form, field) -> None:  # noqa: ANN001
        text = field.data or ""
        digits = sum(ch.isdigit() for ch in text)
        if text and (set(text) - PHONE_CHARACTERS or not 6 <= digits <= 20):
            raise v.ValidationError(_l("Enter a phone number, such as +44 20 7946 0958."))


class PhoneType(TextType):
    rules = FieldTypeRules("phone", text=True)
    input_type = "tel"
    inputmode = "tel"
    autocomplete = "tel"
    field_class = wtforms.TelField

    def extra_validators(self):
        return [PhoneNumber()]


class UrlType(TextType):
    rules = FieldTypeRules("url", text=True)
    input_type = "url"
    inputmode = "url"
    field_class = wtforms.URLField

    def extra_validators(self):
        return [v.URL(require_tld=False, message=_l("Enter a web address starting with https://."))]

    def display(self, value, field, ctx):
        if not value:
            return ""
        if str(value).startswith(("https://", "http://")):
            return Markup('<a href="{0}" rel="noopener noreferrer nofollow">{0}</a>').format(value)
        return str(value)


# -- numbers ----------------------------------------------------------------------------------


class NumberType(FieldType):
    rules = FieldTypeRules("number", bounds="number")
    input_type = "number"
    inputmode = "decimal"

    def make_field(self, field, label, ctx):
        validators = _presence(field) + _number_range(field)
        return wtforms.DecimalField(
            **_kwargs(field, label, ctx, validators),
            places=None,
            render_kw={"step": "any"},
        )

    def to_storage(self, data, field, ctx):
        return None if data is None else _plain_number(data)

    def display(self, value, field, ctx):
        number = _decimal(value) if value not in (None, "") else None
        return "" if number is None else format_decimal(number)


class PercentType(NumberType):
    rules = FieldTypeRules("percent", bounds="number")

    def make_field(self, field, label, ctx):
        validators = _presence(field) + _number_range(field, low=0, high=100)
        return wtforms.DecimalField(
            **_kwargs(field, label, ctx, validators), places=None, render_kw={"step": "any"}
        )

    def display(self, value, field, ctx):
        number = _decimal(value) if value not in (None, "") else None
        return "" if number is None else f"{format_decimal(number)} %"


class MoneyField(wtforms.Field):
    """An amount and its ISO currency, entered side by side (``name`` and ``name__currency``)."""

    widget = None

    def __init__(self, label=None, validators=None, currencies=(), default_currency=None, **kw):
        super().__init__(label, validators, **kw)
        self.currencies = tuple(currencies) or ("EUR", "USD", "GBP", "CNY", "JPY")
        self.currency = default_currency or self.currencies[0]
        self.raw_amount = ""

    @property
    def currency_name(self) -> str:
        return f"{self.name}__currency"

    def process(self, formdata, data=wtforms.utils.unset_value, extra_filters=None):
        self.process_errors = []
        if data is wtforms.utils.unset_value:
            data = self.default() if callable(self.default) else self.default
        if isinstance(data, dict):
            self.data = _decimal(data.get("amount"))
            self.currency = data.get("currency") or self.currency
            self.raw_amount = "" if data.get("amount") is None else str(data.get("amount"))
        elif isinstance(data, int | float | Decimal) and not isinstance(data, bool):
            self.data = _decimal(data)  # a default amount, in the currency chosen at the start
            self.raw_amount = "" if self.data is None else str(self.data)
        else:
            self.data = None
        if formdata is not None and (self.name in formdata or self.currency_name in formdata):
            self.raw_data = formdata.getlist(self.name)
            self.raw_amount = (self.raw_data[0] if self.raw_data else "").strip()
            chosen = formdata.get(self.currency_name)
            if chosen:
                self.currency = chosen
            if self.raw_amount == "":
                self.data = None
            else:
                self.data = _decimal(self.raw_amount.replace(",", "."))
                if self.data is None or not self.data.is_finite():
                    self.data = None
                    self.process_errors.append(_l("Enter an amount, such as 1250.50."))
            if self.currency not in self.currencies:
                self.process_errors.append(_l("Choose one of the listed currencies."))

    def _value(self) -> str:
        return self.raw_amount


class MoneyType(FieldType):
    rules = FieldTypeRules(
        "money", bounds="number", extra_keys=frozenset({"currencies", "default_currency"})
    )
    widget = "money"
    input_type = "text"
    inputmode = "decimal"

    def make_field(self, field, label, ctx):
        validators = _presence(field) + _number_range(field)
        return MoneyField(
            **_kwargs(field, label, ctx, validators),
            currencies=field.extra.get("currencies", ()),
            default_currency=field.extra.get("default_currency"),
        )

    def to_storage(self, data, field, ctx):
        return None  # the view stores money through money_value(), which knows the currency

    def to_formdata(self, value, field, ctx):
        if not isinstance(value, dict):
            return {}
        return {
            field.name: str(value.get("amount", "")),
            f"{field.name}__currency": value.get("currency", ""),
        }

    @staticmethod
    def money_value(bound: MoneyField) -> dict | None:
        if bound.data is None:
            return None
        return {"amount": str(bound.data.normalize()), "currency": bound.currency}

    def display(self, value, field, ctx):
        if not isinstance(value, dict) or value.get("amount") in (None, ""):
            return ""
        amount = _decimal(value["amount"])
        if amount is None:
            return str(value["amount"])
        return format_currency(amount, value.get("currency") or "EUR")


# -- dates and times --------------------------------------------------------------------------


def _date_default(field: FieldDef) -> date | None:
    """A date default (stored as ``2026-01-31``) as the date the input shows."""
    try:
        return date.fromisoformat(str(field.default)) if field.default is not None else None
    except ValueError:
        return None


def _datetime_default(field: FieldDef, ctx: EntryContext) -> datetime | None:
    """A moment given as default, as the wall-clock time the person sees in their own zone:
    one written with a zone (``Z``, ``+01:00``) is moved into theirs; one without is taken
    as it stands, in whatever zone the person is."""
    if field.default is None:
        return None
    try:
        moment = datetime.fromisoformat(str(field.default).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(ctx.timezone).replace(tzinfo=None)
    return moment


class DateRange:
    def __init__(self, low: Any, high: Any):
        self.low = date.fromisoformat(str(low)) if low else None
        self.high = date.fromisoformat(str(high)) if high else None

    def __call__(self, form, field) -> None:  # noqa: ANN001
        value = field.data
        if value is None:
            return
        if isinstance(value, datetime):
            value = value.date()
        if self.low and value < self.low:
            raise v.ValidationError(_l("Enter a date on or after %(date)s.", date=self.low))
        if self.high and value > self.high:
            raise v.ValidationError(_l("Enter a date on or before %(date)s.", date=self.high))


class DateType(FieldType):
    rules = FieldTypeRules("date", bounds="date")
    input_type = "date"

    def make_field(self, field, label, ctx):
        validators = _presence(field) + [DateRange(field.min, field.max)]
        return wtforms.DateField(
            **_kwargs(field, label, ctx, validators, default=_date_default(field)),
            render_kw={k: str(val) for k, val in (("min", field.min), ("max", field.max)) if val},
        )

    def to_storage(self, data, field, ctx):
        return data.isoformat() if data else None

    def display(self, value, field, ctx):
        if not value:
            return ""
        try:
            return format_date(date.fromisoformat(value), "medium")
        except (TypeError, ValueError):
            return str(value)


class DateTimeType(FieldType):
    """A moment: entered in the person's own zone, stored in UTC, shown in the reader's zone."""

    rules = FieldTypeRules("datetime", bounds="datetime")
    input_type = "datetime-local"

    def make_field(self, field, label, ctx):
        validators = _presence(field) + [DateRange(field.min, field.max)]
        return wtforms.DateTimeLocalField(
            **_kwargs(field, label, ctx, validators, default=_datetime_default(field, ctx)),
            format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        )

    def to_storage(self, data, field, ctx):
        if not data:
            return None
        aware = data.replace(tzinfo=ctx.timezone)
        return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")

    def to_formdata(self, value, field, ctx):
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return {}
        return {field.name: moment.astimezone(ctx.timezone).strftime("%Y-%m-%dT%H:%M")}

    def display(self, value, field, ctx):
        if not value:
            return ""
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return str(value)
        from portal.i18n import local_time

        return local_time(moment)


# -- choices ----------------------------------------------------------------------------------


def _choices(field: FieldDef, ctx: EntryContext) -> list[wtforms.SelectChoice]:
    return [
        wtforms.SelectChoice(option.value, _text(option.label, ctx)) for option in field.options
    ]


def _option_label(field: FieldDef | None, value: Any, ctx: DisplayContext) -> str:
    if field is not None:
        for option in field.options:
            if option.value == value:
                return _text(option.label, ctx)
    return str(value)


class SelectType(FieldType):
    rules = FieldTypeRules("select", options=True)
    widget = "select"

    def make_field(self, field, label, ctx):
        choices = [wtforms.SelectChoice("", str(_l("Choose…")))] + _choices(field, ctx)
        return wtforms.SelectField(
            **_kwargs(field, label, ctx, _presence(field)),
            choices=choices,
            validate_choice=True,
        )

    def display(self, value, field, ctx):
        return "" if value in (None, "") else _option_label(field, value, ctx)


class RadioType(SelectType):
    rules = FieldTypeRules("radio", options=True)
    widget = "choices"

    def make_field(self, field, label, ctx):
        return wtforms.RadioField(
            **_kwargs(field, label, ctx, _presence(field)), choices=_choices(field, ctx)
        )


class MultiselectType(FieldType):
    rules = FieldTypeRules("multiselect", options=True)
    widget = "choices"
    multi_valued = True

    def make_field(self, field, label, ctx):
        presence = [v.InputRequired(message=REQUIRED)] if field.required else [v.Optional()]
        return wtforms.SelectMultipleField(
            **_kwargs(field, label, ctx, presence), choices=_choices(field, ctx)
        )

    def to_storage(self, data, field, ctx):
        return list(data) if data else None

    def display(self, value, field, ctx):
        values = value if isinstance(value, list) else [value]
        return ", ".join(
            _option_label(field, item, ctx) for item in values if item not in ("", None)
        )


class CheckboxType(FieldType):
    rules = FieldTypeRules("checkbox")
    widget = "checkbox"

    def make_field(self, field, label, ctx):
        presence = (
            [v.DataRequired(message=_l("Tick this box to continue."))] if field.required else []
        )
        return wtforms.BooleanField(**_kwargs(field, label, ctx, presence))

    def to_storage(self, data, field, ctx):
        return bool(data)

    def to_formdata(self, value, field, ctx):
        return {field.name: "y"} if value else {}

    def display(self, value, field, ctx):
        return str(_l("Yes")) if value else str(_l("No"))


# -- files and headings -------------------------------------------------------------------------


class FileType(FieldType):
    """Files are uploaded as the form is filled in and kept with the draft; the field holds
    the list of those files, checked here for count."""

    rules = FieldTypeRules(
        "file", multiple=True, extra_keys=frozenset({"accept", "max_files", "max_size_mb"})
    )
    widget = "file"
    input_type = "file"

    def make_field(self, field, label, ctx):
        return wtforms.Field(label=label, validators=[])

    def to_formdata(self, value, field, ctx):
        return {}  # files stay with the request; they are not posted again

    def display(self, value, field, ctx):
        if not value:
            return ""
        items = value if isinstance(value, list) else [value]
        parts = []
        for item in items:
            name = item.get("filename", "") if isinstance(item, dict) else str(item)
            if ctx.file_url and isinstance(item, dict) and item.get("id"):
                parts.append(Markup('<a href="{}">{}</a>').format(ctx.file_url(item["id"]), name))
            else:
                parts.append(escape(name))
        return Markup(", ").join(parts)


class SectionType(FieldType):
    rules = FieldTypeRules("section", has_value=False)
    widget = "section"

    def make_field(self, field, label, ctx):
        return None


BUILT_IN_TYPES = (
    TextType, TextareaType, NumberType, MoneyType, PercentType, DateType, DateTimeType,
    EmailType, PhoneType, UrlType, SelectType, MultiselectType, RadioType, CheckboxType,
    FileType, SectionType,
)  # fmt: skip


@hookimpl(trylast=True)
def register_field_types(register) -> None:  # noqa: ANN001
    for field_type in BUILT_IN_TYPES:
        register(field_type())


def currency_label(code: str, locale: str) -> str:
    """``EUR`` with its name in the reader's language, for the currency picker."""
    try:
        return f"{code} — {get_currency_name(code, locale=locale)}"
    except Exception:  # an unknown locale still shows the code
        return code
