"""Adapters: finding and loading them by name, through the ``leadflow.adapters`` entry points.

Scope: discovery only. Every adapter — the built-in ``sqlite`` store, the Salesforce and HubSpot
adapters, and third-party ones — is registered under the entry-point group ``leadflow.adapters``
and loaded lazily by name: importing :mod:`leadflow` or this package imports no adapter and no
CRM client. (The pattern is SQLAlchemy's ``PluginLoader``, with fsspec's install hints and
keyring's habit of registering built-ins exactly like third-party plug-ins.)

An entry point names the adapter class (or any factory). :func:`load` builds the adapter from a
configuration mapping: with ``Factory.from_config(config)`` when the factory has one (the
convention for adapters that wrap a client), else with ``Factory(**config)``.

>>> import leadflow.adapters as adapters
>>> adapters.load("sqlight")
Traceback (most recent call last):
...
leadflow.errors.AdapterNotFoundError: no adapter named 'sqlight'; installed adapters: ...

Errors: an unknown name raises :class:`~leadflow.errors.AdapterNotFoundError` listing what is
installed; an adapter whose optional dependency is missing raises
:class:`~leadflow.errors.MissingExtraError` naming the ``pip install "leadflow[...]"`` that fixes
it; two installed distributions registering the same name raise
:class:`~leadflow.errors.DuplicateAdapterError` naming both.
"""

from __future__ import annotations

import importlib.metadata
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from leadflow._validate import check_keys
from leadflow.errors import (
    AdapterError,
    AdapterNotFoundError,
    DuplicateAdapterError,
    MissingExtraError,
)
from leadflow.ports import Adapter, Capabilities, missing_members

__all__ = [
    "ENTRY_POINT_GROUP",
    "ADAPTER_EXTRAS",
    "INSTALL_HINTS",
    "AdapterInfo",
    "available",
    "build",
    "deregister",
    "load",
    "load_factory",
    "register",
]

#: The entry-point group adapters register under.
ENTRY_POINT_GROUP = "leadflow.adapters"

#: Top-level module that may be missing → the leadflow extra that installs it.
INSTALL_HINTS: Mapping[str, str] = {
    "simple_salesforce": "salesforce",
    "hubspot": "hubspot",
    "pyarrow": "etl",
    "holidays": "holidays",
}

#: Built-in adapter name → the leadflow extra that installs everything it imports. Consulted
#: when the module an adapter fails to import is a third-party dependency of its client that
#: :data:`INSTALL_HINTS` cannot attribute to one extra (``requests``, ``urllib3``...).
ADAPTER_EXTRAS: Mapping[str, str] = {
    "salesforce": "salesforce",
    "hubspot": "hubspot",
}

#: Factories registered in-process with :func:`register` (tests, applications embedding an
#: adapter); they shadow entry points of the same name.
_registered: dict[str, Callable[..., Any]] = {}

_IN_PROCESS = "<registered in-process>"


@attrs.frozen(kw_only=True)
class AdapterInfo:
    """What is known about an installed adapter without importing it.

    ``target`` is the entry point's ``module:attribute``; ``distribution`` and ``version`` name
    the package that registers it (``"<registered in-process>"`` for :func:`register`);
    ``providers`` lists every distribution claiming the name (more than one is an error that
    :func:`load` raises).
    """

    name: str
    target: str
    distribution: str
    version: str | None = None
    providers: tuple[str, ...] = ()

    @property
    def duplicated(self) -> bool:
        """Whether more than one distribution registers this name."""
        return len(self.providers) > 1

    def capabilities(self) -> Capabilities | None:
        """The adapter's declared capabilities, importing its module (not connecting).

        ``None`` when the factory does not declare them as a class attribute; raises
        :class:`~leadflow.errors.MissingExtraError` when its extra is not installed.
        """
        caps = getattr(load_factory(self.name), "capabilities", None)
        return caps if isinstance(caps, Capabilities) else None


def _entry_points() -> dict[str, list[importlib.metadata.EntryPoint]]:
    found: dict[str, list[importlib.metadata.EntryPoint]] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        same = found.setdefault(ep.name, [])
        # One distribution seen twice on sys.path (an editable install and a build dir) is
        # the same claim, not a duplicate.
        if not any(_dist(e) == _dist(ep) and e.value == ep.value for e in same):
            same.append(ep)
    return found


def _dist(ep: importlib.metadata.EntryPoint) -> str:
    dist = ep.dist
    return dist.name if dist is not None else "<unknown distribution>"


def _version(ep: importlib.metadata.EntryPoint) -> str | None:
    dist = ep.dist
    return dist.version if dist is not None else None


def available() -> dict[str, AdapterInfo]:
    """Every installed adapter by name, sorted, without importing any of them."""
    infos: dict[str, AdapterInfo] = {}
    for name, eps in _entry_points().items():
        providers = tuple(f"{_dist(ep)} ({ep.value})" for ep in eps)
        infos[name] = AdapterInfo(
            name=name,
            target=eps[0].value,
            distribution=_dist(eps[0]),
            version=_version(eps[0]),
            providers=providers,
        )
    for name, factory in _registered.items():
        target = f"{getattr(factory, '__module__', '?')}:{getattr(factory, '__qualname__', '?')}"
        infos[name] = AdapterInfo(
            name=name, target=target, distribution=_IN_PROCESS, providers=(_IN_PROCESS,)
        )
    return dict(sorted(infos.items()))


def register(name: str, factory: Callable[..., Any]) -> None:
    """Register *factory* under *name* in this process, shadowing any entry point of that name.

    Meant for tests and applications that build an adapter themselves; installed adapters
    register through the ``leadflow.adapters`` entry-point group instead.
    """
    if not isinstance(name, str) or not name.strip():
        raise AdapterError(f"adapter name must be a non-empty string, got {name!r}")
    if not callable(factory):
        raise AdapterError(f"factory for {name!r} is not callable: {factory!r}")
    _registered[name] = factory


def deregister(name: str) -> None:
    """Undo :func:`register` for *name* (unknown names raise ``AdapterNotFoundError``)."""
    if name not in _registered:
        raise AdapterNotFoundError(name, sorted(_registered))
    del _registered[name]


def load_factory(name: str) -> Callable[..., Any]:
    """Import and return the factory registered as *name*, without building an adapter."""
    if name in _registered:
        return _registered[name]
    eps = _entry_points().get(name)
    if not eps:
        raise AdapterNotFoundError(name, available())
    if len(eps) > 1:
        raise DuplicateAdapterError(name, [f"{_dist(ep)} ({ep.value})" for ep in eps])
    try:
        factory: Callable[..., Any] = eps[0].load()
    except ImportError as exc:
        missing = (exc.name or "").split(".")[0]
        extra = INSTALL_HINTS.get(missing)
        if extra is None and missing and missing != "leadflow":
            extra = ADAPTER_EXTRAS.get(name)
        if extra is not None:
            raise MissingExtraError(name, extra, missing) from exc
        raise AdapterError(
            f"cannot import {eps[0].value} (from {_dist(eps[0])}): {exc}", adapter=name
        ) from exc
    return factory


def build(factory: Callable[..., Any], config: Mapping[str, Any], *, name: str = "") -> Adapter:
    """Build an adapter with *factory* from *config*, as :func:`load` does, and check it.

    Uses ``factory.from_config(config)`` when the factory defines it (which must refuse keys it
    does not know: :func:`leadflow.adapters.sync.check_keys`), else ``factory(**config)``, where
    a key that is not one of the factory's parameters is a
    :class:`~leadflow.errors.ConfigError` naming it. What is built must be an
    :class:`~leadflow.ports.Adapter`: one lacking a member is an
    :class:`~leadflow.errors.AdapterError` naming the members it lacks (and only those; a reader
    is required only for an entity its capabilities declare).
    """
    from_config = getattr(factory, "from_config", None)
    if callable(from_config):
        adapter = from_config(config)
    else:
        _check_parameters(factory, config)
        adapter = factory(**config)
    missing = missing_members(adapter)
    if missing:
        raise AdapterError(
            f"{factory!r} built {type(adapter).__name__}, which does not implement "
            f"leadflow.ports.Adapter: it lacks {', '.join(missing)}",
            adapter=name,
        )
    built: Adapter = adapter
    return built


def _check_parameters(factory: Callable[..., Any], config: Mapping[str, Any]) -> None:
    """Refuse a key of *config* that *factory* takes no parameter for."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: let the call decide
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return
    known = [
        p.name
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    check_keys(config, "", known)


def load(name: str, /, **config: Any) -> Adapter:
    """Build the adapter registered as *name* from *config* (see :func:`build`).

    Uses ``factory.from_config(config)`` when the factory defines it, else
    ``factory(**config)``; the result must satisfy :class:`leadflow.ports.Adapter`.
    """
    return build(load_factory(name), config, name=name)
