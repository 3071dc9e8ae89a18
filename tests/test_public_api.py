"""Every public name is in its module's ``__all__`` and documented; helpers are ``_private``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import leadflow


def modules() -> list[str]:
    found = [leadflow.__name__]
    for info in pkgutil.walk_packages(leadflow.__path__, prefix="leadflow."):
        if info.name != "leadflow.__main__":
            found.append(info.name)
    return sorted(found)


def load(name: str) -> object:
    try:
        return importlib.import_module(name)
    except ImportError as exc:  # an optional module whose extra is not installed
        pytest.skip(f"{name}: {exc}")


@pytest.mark.parametrize("name", modules())
def test_public_functions_and_classes_are_listed_and_documented(name: str) -> None:
    module = load(name)
    exported = set(getattr(module, "__all__", ()))
    defined_here = {
        attr: obj
        for attr, obj in vars(module).items()
        if (inspect.isfunction(obj) or inspect.isclass(obj))
        and getattr(obj, "__module__", None) == name
        and not attr.startswith("_")
    }
    unlisted = sorted(set(defined_here) - exported)
    assert unlisted == [], f"{name}: public but not in __all__ (make them _private or list them)"
    undocumented = sorted(attr for attr, obj in defined_here.items() if not inspect.getdoc(obj))
    assert undocumented == []
