"""Internal fast paths for trusted code: copy and build frozen models without pydantic's
generic machinery.

Only for engine and simulator code that builds models from values it already validated (its
own Decimals, enums and UTC datetimes). The result is indistinguishable from the validated
model: same class, same field values in the same order, same ``model_fields_set``; equality,
``repr``, ``model_dump`` and ``model_copy`` behave exactly as for a validated instance. Anything
read from outside (a venue's JSON, a user's input) still goes through validation.

``model_copy(update=...)`` costs ~2.6 µs on a 25-field model because pydantic copies through
``copy.copy`` and rebuilds the fields-set; :func:`replace` does the same in under 1 µs. A
validated ``Order(...)`` costs ~5.5 µs (``model_construct`` is slower still); a
:class:`Builder` fills a template's ``__dict__`` instead.

A builder's template is a key-sharing dict (``_shared_keys``), so the models it builds and
their :func:`replace` copies keep only their values, not a key table each.

Fields-sets are interned: models built or copied here share one set object per distinct set
of names (nothing mutates a model's fields-set in place; ``model_copy`` copies it first), so a
million orders do not hold a million sets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

M = TypeVar("M", bound=BaseModel)

_new = object.__new__
# BaseModel's own slots, set through their descriptors (cheaper than object.__setattr__)
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_INTERNED: dict[frozenset[str], set[str]] = {}
_BY_ID: dict[int, set[str]] = {}  # id → interned set (interned sets live forever: ids are unique)
_UNIONS: dict[tuple[int, tuple[str, ...]], set[str]] = {}  # (interned set, changed names) → set


def fields_set(names: Iterable[str]) -> set[str]:
    """The shared set object for these field names."""
    key = frozenset(names)
    found = _INTERNED.get(key)
    if found is None:
        found = _INTERNED[key] = set(key)
        _BY_ID[id(found)] = found
    return found


def _shared_keys(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` as a key-sharing dict: its copies (and their copies, as long as only these
    keys are set) share one key table and store only their values, ~⅓ of a 25-key dict's
    memory. Same keys, order, values and behaviour as a plain dict (CPython builds such dicts
    for instances of one class; elsewhere this is just a dict)."""
    holder = type("_SharedKeys", (), {"__module__": __name__})()
    for name, value in values.items():
        setattr(holder, name, value)
    shared: dict[str, Any] = holder.__dict__
    return shared if list(shared) == list(values) else dict(values)


def replace(model: M, changes: Mapping[str, Any]) -> M:
    """``model.model_copy(update=changes)`` for trusted ``changes`` (no validation, as there)."""
    new = _new(type(model))
    values = model.__dict__.copy()
    values.update(changes)
    _set_dict(new, values)
    names = model.__pydantic_fields_set__
    key = (id(names), tuple(changes))
    # A key is only stored for an interned set, and interned sets live forever: a hit means
    # ``names`` is that very set (no other live object has its id).
    merged = _UNIONS.get(key)
    if merged is None:
        merged = fields_set(names.union(changes))
        if _BY_ID.get(id(names)) is names:
            _UNIONS[key] = merged
    _set_fields(new, merged)
    _set_extra(new, model.__pydantic_extra__)
    private = model.__pydantic_private__
    _set_private(new, None if private is None else dict(private))
    return new


class Builder:
    """Builds instances of one frozen model class from trusted values.

    Fields not given take their declared default (a ``default_factory`` is called per
    instance, as pydantic does). With ``given`` (the names every call passes, no more, no
    less) the per-call work is one dict copy and update; without it the names are read from
    each call's values. The caller is responsible for types and for the model's own
    invariants (see e.g. :func:`sparkstacker.model.order.trusted_order`).
    """

    def __init__(self, cls: type[BaseModel], given: Iterable[str] | None = None) -> None:
        self.cls = cls
        self.template: dict[str, Any] = {}
        self.factories: list[tuple[str, Callable[[], Any]]] = []
        required = []
        for name, field in cls.model_fields.items():
            if field.default_factory is not None:
                self.template[name] = None
                self.factories.append((name, field.default_factory))  # type: ignore[arg-type]
            elif field.default is PydanticUndefined:
                self.template[name] = None
                required.append(name)
            else:
                self.template[name] = field.default
        self.template = _shared_keys(self.template)
        self.required = frozenset(required)
        self.names = frozenset(cls.model_fields)
        self.given: set[str] | None = None
        if given is not None:
            given = frozenset(given)
            self.check(dict.fromkeys(given))
            self.given = fields_set(given)
            self.factories = [(n, f) for n, f in self.factories if n not in given]

    def __call__(self, values: dict[str, Any]) -> Any:
        instance = _new(self.cls)
        data = self.template.copy()
        data.update(values)
        given = self.given
        if given is None:
            for name, factory in self.factories:
                if name not in values:
                    data[name] = factory()
            given = fields_set(values)
        else:
            for name, factory in self.factories:
                data[name] = factory()
        _set_dict(instance, data)
        _set_fields(instance, given)
        _set_extra(instance, None)
        _set_private(instance, None)
        return instance

    def check(self, values: Mapping[str, Any]) -> None:
        """Every required field given and no unknown one (a programming error otherwise)."""
        missing = self.required - values.keys()
        unknown = values.keys() - self.names
        if missing or unknown:
            raise TypeError(
                f"{self.cls.__name__}: missing {sorted(missing)}, unknown {sorted(unknown)}"
            )
