"""Field and stage mapping between leadflow's core and a CRM, as data a user can override.

Scope: which CRM field holds each core field (per entity), how its value is converted on the way
in and out (a converter *named* from a small registry, so a mapping can live in a TOML file), and
which CRM status holds each lifecycle stage. Adapters ship a default :class:`FieldMap`; users
override parts of it from configuration without writing code — every adapter reads the same two
settings, ``fields`` and ``stages`` (:data:`OVERRIDE_KEYS`, applied by
:func:`override_from_settings`), which in a ``leadflow run`` configuration sit under the adapter's
table (``[adapters.<name>.fields.lead]``)::

    [fields.lead]
    title = "Title"                                   # same converter as before
    score = { crm = "Lead_Score__c", converter = "float" }
    persona = { crm = "Persona__c" }                  # a new mapping
    fax = ""                                          # "" removes a mapping

    [stages]
    mql = "Marketing Qualified"

    [stages.aliases]                                  # extra CRM values read as a stage
    "Working - Contacted" = "sal"

>>> fields = FieldMap.from_dict({
...     "fields": {"lead": {"email": "Email", "created_at": {"crm": "CreatedDate",
...                                                       "converter": "datetime"}}},
...     "stages": {"inquiry": "Open", "mql": "Marketing Qualified"},
... })
>>> fields.from_crm("lead", {"Email": "ada@example.com", "CreatedDate": "2026-03-02T09:00:00Z"})
{'email': 'ada@example.com', 'created_at': datetime.datetime(2026, 3, 2, 9, 0, tzinfo=tzutc())}
>>> fields = fields.override({"fields": {"lead": {"email": "Work_Email__c"}}})
>>> fields.crm_field("lead", "email"), fields.stages.to_crm("mql")
('Work_Email__c', 'Marketing Qualified')

CRM field names must be plain identifiers (letters, digits, ``_``, and ``.`` for relationship
paths), so a name from a configuration file can be put into a query without quoting.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs
from dateutil.parser import isoparse

from leadflow._validate import check_aware
from leadflow.errors import ConfigError, ValidationError
from leadflow.model import Account, Activity, Lead, Touch

__all__ = [
    "CONVERTERS",
    "OVERRIDE_KEYS",
    "Converter",
    "FieldMap",
    "FieldRule",
    "StageMap",
    "override_from_settings",
]

_CRM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_CORE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@attrs.frozen(kw_only=True)
class Converter:
    """A named pair of functions: core value → CRM value (``to_crm``) and back (``from_crm``).

    Both receive non-``None`` values; ``None`` passes through unconverted.
    """

    name: str
    to_crm: Callable[[Any], Any]
    from_crm: Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _datetime_to_iso(value: Any) -> str:
    return check_aware("value", value).astimezone(UTC).isoformat().replace("+00:00", "Z")


def _iso_to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return check_aware("value", value)
    try:
        parsed = isoparse(str(value))
    except (ValueError, OverflowError):
        raise ValidationError("value", value, "is not an ISO-8601 timestamp") from None
    return check_aware("value", parsed)


def _datetime_to_ms(value: Any) -> int:
    return round(check_aware("value", value).timestamp() * 1000)


def _ms_to_datetime(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError("value", value, "is not a time in epoch milliseconds") from None


def _date_to_iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise ValidationError("value", value, "is not a date")


def _iso_to_date(value: Any) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ValidationError("value", value, "is not an ISO-8601 date") from None


def _number(kind: type) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, bool):
            raise ValidationError("value", value, f"is not a {kind.__name__}")
        try:
            number = float(value) if not isinstance(value, int | float) else value
        except (TypeError, ValueError):
            raise ValidationError("value", value, f"is not a {kind.__name__}") from None
        if kind is int:
            if number != int(number):
                raise ValidationError("value", value, "is not a whole number")
            return int(number)
        return float(number)

    return convert


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "y"}:
        return True
    if text in {"false", "0", "no", "n", ""}:
        return False
    raise ValidationError("value", value, "is not a boolean")


def _to_decimal_text(value: Any) -> str:
    return str(_to_decimal(value))


def _to_decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValidationError("value", value, "is not a decimal number") from None


_RANGE = re.compile(r"^\s*([0-9][0-9,. ]*)\s*(?:-|\u2013|to)\s*([0-9][0-9,. ]*)\s*$")
_AT_LEAST = re.compile(r"^\s*([0-9][0-9,. ]*)\s*\+\s*$")
_SCALE = {
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "mm": 1e6,
    "million": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "billion": 1e9,
}
_AMOUNT = re.compile(
    r"^\s*(?:[$€£¥]|usd|eur|gbp)?\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*"
    r"(k|thousand|mm|m|million|bn|b|billion)?\s*(?:usd|eur|gbp|[$€£¥])?\s*$",
    re.IGNORECASE,
)


def _plain_number(text: str) -> float | None:
    """A number written with thousands separators ("1,000", "1 000"), else ``None``."""
    compact = text.replace(",", "").replace(" ", "")
    if not compact or compact.count(".") > 1:
        return None
    try:
        return float(compact)
    except ValueError:
        return None


def _count(value: Any) -> int:
    """A head count from a number or a dropdown band: ``"250"``, ``"1,000"``, ``"25-50"`` (a band
    reads as its lower bound: "at least 25"), ``"1000+"``. Anything else is refused."""
    if isinstance(value, bool):
        raise ValidationError("value", value, "is not a count")
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip()
        band = _RANGE.match(text) or _AT_LEAST.match(text)
        low = _plain_number(band.group(1)) if band else _plain_number(text)
        high = _plain_number(band.group(2)) if band and band.lastindex == 2 else None
        if low is None or (band and band.lastindex == 2 and (high is None or high < low)):
            raise ValidationError("value", value, "is not a count or a range of counts")
        number = low
    if number != int(number) or number < 0:
        raise ValidationError("value", value, "is not a whole number >= 0")
    return int(number)


def _amount(value: Any) -> float:
    """A money amount from a number or free text: ``"1200000"``, ``"$1,200,000"``, ``"1.2M"``,
    ``"€3.5 million"``, ``"250k"``. Ranges, words and several numbers are refused (unclear)."""
    if isinstance(value, bool):
        raise ValidationError("value", value, "is not an amount")
    if isinstance(value, int | float):
        return float(value)
    match = _AMOUNT.match(str(value))
    if match is None:
        raise ValidationError("value", value, "is not an amount")
    number = float(match.group(1).replace(",", ""))
    scale = _SCALE[match.group(2).lower()] if match.group(2) else 1.0
    return number * scale


def _number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _join(value: Any) -> str:
    return ";".join(str(v) for v in value)


def _split(value: Any) -> tuple[str, ...]:
    return tuple(part for part in str(value).split(";") if part)


#: The converters a mapping may name. ``datetime`` is ISO-8601 text in UTC (Salesforce);
#: ``epoch_ms`` is milliseconds since the epoch (HubSpot); ``multi`` is a ``;``-joined list;
#: ``count`` a head count from a number or a dropdown band (``"25-50"`` reads as 25,
#: ``"1000+"`` as 1000); ``amount`` money from a number or free text (``"$1.2M"``).
CONVERTERS: Mapping[str, Converter] = {
    c.name: c
    for c in (
        Converter(name="identity", to_crm=_identity, from_crm=_identity),
        Converter(name="str", to_crm=str, from_crm=str),
        Converter(name="int", to_crm=_number(int), from_crm=_number(int)),
        Converter(name="float", to_crm=_number(float), from_crm=_number(float)),
        Converter(name="bool", to_crm=_to_bool, from_crm=_to_bool),
        Converter(name="decimal", to_crm=_to_decimal_text, from_crm=_to_decimal),
        Converter(name="datetime", to_crm=_datetime_to_iso, from_crm=_iso_to_datetime),
        Converter(name="epoch_ms", to_crm=_datetime_to_ms, from_crm=_ms_to_datetime),
        Converter(name="date", to_crm=_date_to_iso, from_crm=_iso_to_date),
        Converter(name="multi", to_crm=_join, from_crm=_split),
        Converter(name="count", to_crm=_number_text, from_crm=_count),
        Converter(name="amount", to_crm=_number_text, from_crm=_amount),
    )
}


@attrs.frozen(kw_only=True)
class FieldRule:
    """One mapped field: the core name, the CRM name, and the converter's registry name."""

    core: str
    crm: str
    converter: str = "identity"


def _rule(entity: str, core: str, spec: Any, previous: FieldRule | None) -> FieldRule | None:
    path = f"fields.{entity}.{core}"
    if not isinstance(core, str) or not _CORE_NAME.fullmatch(core):
        raise ConfigError(path, "a core field name must be lower-case snake_case")
    if spec is None or spec == "":
        return None
    if isinstance(spec, str):
        crm, converter = spec, previous.converter if previous else "identity"
    elif isinstance(spec, Mapping):
        unknown = sorted(set(spec) - {"crm", "converter"})
        if unknown:
            raise ConfigError(f"{path}.{unknown[0]}", "unknown key; expected 'crm', 'converter'")
        crm = spec.get("crm", previous.crm if previous else None)
        converter = spec.get("converter", previous.converter if previous else "identity")
        if crm is None:
            raise ConfigError(f"{path}.crm", "is required for a new mapping")
    else:
        raise ConfigError(path, f"must be a CRM field name or a table, got {spec!r}")
    if not isinstance(crm, str) or not _CRM_NAME.fullmatch(crm):
        raise ConfigError(path, f"CRM field name {crm!r} must be letters, digits, '_' and '.' only")
    if converter not in CONVERTERS:
        raise ConfigError(
            f"{path}.converter",
            f"unknown converter {converter!r}; known: {', '.join(sorted(CONVERTERS))}",
        )
    return FieldRule(core=core, crm=crm, converter=converter)


@attrs.frozen(kw_only=True)
class StageMap:
    """Lifecycle stage ↔ CRM status value.

    ``statuses`` gives the value written for each stage; reading accepts those values and the
    extra ``aliases`` (several CRM values may mean one stage). An unmapped stage or status is an
    error naming it, never a silent default.

    >>> stages = StageMap.from_dict({"mql": "MQL", "aliases": {"Working": "sal"}, "sal": "SAL"})
    >>> stages.to_crm("mql"), stages.from_crm("Working"), stages.from_crm("SAL")
    ('MQL', 'sal', 'sal')
    """

    statuses: tuple[tuple[str, str], ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()

    def to_crm(self, stage: str) -> str:
        """The CRM value that records *stage*."""
        for core, crm in self.statuses:
            if core == stage:
                return crm
        raise ConfigError(f"stages.{stage}", "no CRM status is mapped to this stage")

    def from_crm(self, status: str) -> str:
        """The stage a CRM *status* means."""
        for core, crm in self.statuses:
            if crm == status:
                return core
        for crm, core in self.aliases:
            if crm == status:
                return core
        known = [crm for _, crm in self.statuses] + [crm for crm, _ in self.aliases]
        raise ValidationError("status", status, f"is not a mapped CRM status; mapped: {known}")

    @property
    def stages(self) -> tuple[str, ...]:
        """The stages that have a CRM status."""
        return tuple(core for core, _ in self.statuses)

    def override(self, data: Mapping[str, Any]) -> StageMap:
        """A new map with *data*'s stages (and ``aliases`` table) replacing or adding entries;
        ``""`` removes a stage's mapping."""
        statuses = dict(self.statuses)
        aliases = dict(self.aliases)
        for key, value in data.items():
            if key == "aliases":
                if not isinstance(value, Mapping):
                    raise ConfigError("stages.aliases", "must be a table of CRM value = stage")
                for crm, core in value.items():
                    if not isinstance(core, str) or not _CORE_NAME.fullmatch(core):
                        raise ConfigError(f"stages.aliases.{crm}", f"{core!r} is not a stage")
                    aliases[str(crm)] = core
            elif not isinstance(key, str) or not _CORE_NAME.fullmatch(key):
                raise ConfigError(f"stages.{key}", "is not a stage name")
            elif value is None or value == "":
                statuses.pop(key, None)
            elif isinstance(value, str):
                statuses[key] = value
            else:
                raise ConfigError(f"stages.{key}", f"must be a CRM status string, got {value!r}")
        seen: dict[str, str] = {}
        for core, crm in statuses.items():
            if crm in seen:
                raise ConfigError(
                    f"stages.{core}",
                    f"CRM status {crm!r} is already mapped to {seen[crm]!r}; "
                    "map extra CRM values under [stages.aliases]",
                )
            seen[crm] = core
        return StageMap(statuses=tuple(statuses.items()), aliases=tuple(aliases.items()))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StageMap:
        """Build a map from plain data; see :meth:`override`."""
        return cls().override(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :meth:`from_dict` reads back to an equal map."""
        out: dict[str, Any] = dict(self.statuses)
        if self.aliases:
            out["aliases"] = dict(self.aliases)
        return out


@attrs.frozen(kw_only=True)
class FieldMap:
    """Per-entity field rules plus a :class:`StageMap`: how a CRM's records map onto leadflow.

    Entities are free names (``lead``, ``account``, ``activity``, ``touch`` and whatever an
    adapter writes back, such as ``score``). Build with :meth:`from_dict`, change with
    :meth:`override` (which returns a new map); :meth:`default` is the identity map of the core
    model, useful to stores whose columns carry leadflow's own names.
    """

    entities: tuple[tuple[str, tuple[FieldRule, ...]], ...] = ()
    stages: StageMap = attrs.field(factory=StageMap)

    def rules(self, entity: str) -> tuple[FieldRule, ...]:
        """The rules for *entity* (empty when it has none)."""
        for name, rules in self.entities:
            if name == entity:
                return rules
        return ()

    def crm_field(self, entity: str, core: str) -> str:
        """The CRM field holding core field *core* of *entity*."""
        for rule in self.rules(entity):
            if rule.core == core:
                return rule.crm
        raise ConfigError(f"fields.{entity}.{core}", "is not mapped to a CRM field")

    def crm_fields(self, entity: str) -> tuple[str, ...]:
        """Every CRM field mapped for *entity*, in rule order (e.g. a query's select list)."""
        return tuple(rule.crm for rule in self.rules(entity))

    def to_crm(self, entity: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """CRM fields and converted values for the mapped core fields present in *values*."""
        out: dict[str, Any] = {}
        for rule in self.rules(entity):
            if rule.core in values:
                out[rule.crm] = self._convert(entity, rule, values[rule.core], to_crm=True)
        return out

    def from_crm(self, entity: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """Core fields and converted values for the mapped CRM fields present in *record*.

        Relationship paths (``Owner.Email``) are looked up through nested mappings.
        """
        out: dict[str, Any] = {}
        for rule in self.rules(entity):
            found, raw = _lookup(record, rule.crm)
            if found:
                out[rule.core] = self._convert(entity, rule, raw, to_crm=False)
        return out

    def _convert(self, entity: str, rule: FieldRule, value: Any, *, to_crm: bool) -> Any:
        if value is None:
            return None
        converter = CONVERTERS[rule.converter]
        try:
            return converter.to_crm(value) if to_crm else converter.from_crm(value)
        except ValidationError as exc:
            name = rule.core if to_crm else rule.crm
            raise ValidationError(f"{entity}.{name}", value, exc.reason) from None

    def override(self, data: Mapping[str, Any]) -> FieldMap:
        """A new map with *data* (``{"fields": {entity: {core: spec}}, "stages": {...}}``)
        applied over this one; see the module docstring for the shapes a spec may take."""
        unknown = sorted(set(data) - {"fields", "stages"})
        if unknown:
            raise ConfigError(unknown[0], "unknown key; expected 'fields' or 'stages'")
        tables = data.get("fields", {})
        if not isinstance(tables, Mapping):
            raise ConfigError("fields", "must be a table of entity tables")
        entities = {name: {r.core: r for r in rules} for name, rules in self.entities}
        for entity, table in tables.items():
            if not isinstance(table, Mapping):
                raise ConfigError(f"fields.{entity}", "must be a table of core field = CRM field")
            current = entities.setdefault(str(entity), {})
            for core, spec in table.items():
                rule = _rule(str(entity), core, spec, current.get(core))
                if rule is None:
                    current.pop(core, None)
                else:
                    current[core] = rule
        stages = data.get("stages")
        if stages is not None and not isinstance(stages, Mapping):
            raise ConfigError("stages", "must be a table of stage = CRM status")
        return FieldMap(
            entities=tuple((name, tuple(rules.values())) for name, rules in entities.items()),
            stages=self.stages.override(stages) if stages else self.stages,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FieldMap:
        """Build a map from plain data (a parsed TOML document)."""
        return cls().override(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :meth:`from_dict` reads back to an equal map."""
        return {
            "fields": {
                name: {r.core: {"crm": r.crm, "converter": r.converter} for r in rules}
                for name, rules in self.entities
            },
            "stages": self.stages.to_dict(),
        }

    @classmethod
    def default(cls) -> FieldMap:
        """The identity map of the core model: every field of ``Lead``, ``Account``,
        ``Activity`` and ``Touch`` under its own name (timestamps as ISO-8601 text), and every
        :data:`~leadflow.lifecycle.WATERFALL` stage under its own name.

        >>> FieldMap.default().to_crm("touch", {"kind": "call", "by": "u-1"})
        {'kind': 'call', 'by': 'u-1'}
        """
        from leadflow.lifecycle import WATERFALL

        fields: dict[str, dict[str, Any]] = {}
        for entity, cls_ in (
            ("lead", Lead),
            ("account", Account),
            ("activity", Activity),
            ("touch", Touch),
        ):
            table: dict[str, Any] = {}
            for field in attrs.fields(cls_):
                if field.name in {"history", "owner_history", "properties"}:
                    continue
                annotation = str(field.type)
                converter = (
                    "datetime"
                    if "datetime" in annotation
                    else "int"
                    if annotation.startswith("int")
                    else "float"
                    if annotation.startswith("float")
                    else "str"
                )
                table[field.name] = {"crm": field.name, "converter": converter}
            fields[entity] = table
        return cls.from_dict({"fields": fields, "stages": {s: s for s in WATERFALL.stages}})


#: The keys of an adapter's settings that override its field map: ``fields`` (a table per
#: entity) and ``stages``, the shape :meth:`FieldMap.override` reads. Every adapter takes its
#: overrides under these two names, directly in its settings (``[adapters.<name>.fields.lead]``).
OVERRIDE_KEYS = ("fields", "stages")

# Core fields an adapter fills itself (the record id, the stage from the stage map, the stage
# and owner histories and the custom properties), so no field rule may target them.
_ADAPTER_OWNED = frozenset({"id", "stage", "history", "owner_history", "properties"})


def override_from_settings(
    base: FieldMap,
    settings: Mapping[str, Any],
    *,
    fixed: Mapping[str, Collection[str]] | None = None,
) -> FieldMap:
    """*base* with the ``fields``/``stages`` tables of an adapter's *settings* applied.

    An adapter's entities are fixed by its code, so an entity *base* does not map is refused.
    So is a core field outside the fields its entity can hold — ``lead`` and ``account``: the
    fields of :class:`~leadflow.model.Lead` and :class:`~leadflow.model.Account`; ``writeback``:
    the fields *base* maps there; more entities, or other sets, from *fixed* (entity → core
    fields) — with a did-you-mean hint: a typo must not become a mapping nothing ever uses, or
    a failure in the middle of a read. Other keys of *settings* are ignored (they are the
    adapter's other options).

    >>> base = FieldMap.from_dict({"fields": {"lead": {"email": "Email"},
    ...                                       "writeback": {"score": "Score__c"}}})
    >>> override_from_settings(base, {"fields": {"writeback": {"score": "S__c"}},
    ...                               "page_size": 10}).crm_field("writeback", "score")
    'S__c'
    >>> override_from_settings(base, {"fields": {"laed": {"email": "Email"}}})
    Traceback (most recent call last):
    ...
    leadflow.errors.ConfigError: fields.laed: unknown entity; expected one of lead, writeback
    >>> override_from_settings(base, {"fields": {"writeback": {"scor": "S__c"}}})
    Traceback (most recent call last):
    ...
    leadflow.errors.ConfigError: fields.writeback.scor: unknown field; did you mean 'score'? expected one of score
    """
    data = {key: settings[key] for key in OVERRIDE_KEYS if key in settings}
    if not data:
        return base
    tables = data.get("fields")
    if isinstance(tables, Mapping):
        known = [name for name, _ in base.entities]
        closed: dict[str, Collection[str]] = {
            "lead": [f.name for f in attrs.fields(Lead) if f.name not in _ADAPTER_OWNED],
            "account": [f.name for f in attrs.fields(Account) if f.name not in _ADAPTER_OWNED],
            "writeback": [rule.core for rule in base.rules("writeback")],
            **(fixed or {}),
        }
        for entity, table in tables.items():
            if entity not in known:
                raise ConfigError(
                    f"fields.{entity}", f"unknown entity; expected one of {', '.join(known)}"
                )
            if entity in closed and isinstance(table, Mapping):
                cores = sorted(closed[entity])
                for core in table:
                    if core not in cores:
                        close = difflib.get_close_matches(str(core), cores, n=1)
                        hint = f"did you mean {close[0]!r}?" if close else ""
                        raise ConfigError(
                            f"fields.{entity}.{core}",
                            f"unknown field; {hint + ' ' if hint else ''}"
                            f"expected one of {', '.join(cores)}",
                        )
    return base.override(data)


def _lookup(record: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    if path in record:
        return True, record[path]
    current: Any = record
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return False, None
        current = current[part]
    return True, current
