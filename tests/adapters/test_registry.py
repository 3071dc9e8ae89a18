"""Discovery: adapters are found by name through real entry points, lazily, with clear errors.

The distributions here are real ``*.dist-info`` directories on ``sys.path`` that
``importlib.metadata`` discovers the way it discovers installed packages.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from leadflow import adapters
from leadflow.errors import (
    AdapterError,
    AdapterNotFoundError,
    ConfigError,
    DuplicateAdapterError,
    MissingExtraError,
    ValidationError,
)

MODULE = """
from leadflow.ports import Capabilities, Entity

class Plug:
    capabilities = Capabilities(reads={Entity.LEAD}, writes=(), max_batch=7)

    def __init__(self, **config):
        self.name = "plug"
        self.config = config

    def read_leads(self, cursor=None):
        return iter(())

    read_accounts = read_activities = read_touches = read_leads

    def write(self, writes):
        return []

    def close(self):
        pass


class FromConfig(Plug):
    @classmethod
    def from_config(cls, config):
        made = cls()
        made.config = {"via": "from_config", **config}
        return made


class NotAnAdapter:
    def __init__(self, **config):
        pass


class LeadsAndTouches:
    # A CRM without accounts or activities: it declares so, and has no stubs for them.

    name = "lt"
    capabilities = Capabilities(reads={Entity.LEAD, Entity.TOUCH}, writes=())

    def __init__(self, page_size=10):
        self.page_size = page_size

    def read_leads(self, cursor=None):
        return iter(())

    read_touches = read_leads

    def write(self, writes):
        return []

    def close(self):
        pass


class ForgotTouches(LeadsAndTouches):
    read_touches = None
    close = None
"""

MakeDist = Callable[[str, dict[str, str]], None]


@pytest.fixture
def make_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeDist]:
    """Install a distribution by writing its dist-info and module onto sys.path."""
    monkeypatch.syspath_prepend(str(tmp_path))
    made: list[str] = []

    def make(dist: str, entry_points: dict[str, str]) -> None:
        info = tmp_path / f"{dist}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
        (info / "entry_points.txt").write_text(f"[leadflow.adapters]\n{lines}\n")
        module = dist.replace("-", "_")
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(MODULE))
        made.append(module)

    yield make
    for module in made:
        sys.modules.pop(module, None)


def test_unknown_name_lists_what_is_installed(make_dist: MakeDist) -> None:
    make_dist("plugdist", {"plug": "plugdist:Plug"})
    with pytest.raises(AdapterNotFoundError) as info:
        adapters.load("plgu")
    assert "'plgu'" in str(info.value)
    assert "plug" in info.value.available
    assert isinstance(info.value, LookupError)


def test_available_does_not_import_the_adapter(make_dist: MakeDist) -> None:
    make_dist("lazydist", {"lazy": "lazydist:Plug"})
    info = adapters.available()["lazy"]
    assert (info.distribution, info.version, info.target) == ("lazydist", "1.0", "lazydist:Plug")
    assert "lazydist" not in sys.modules
    caps = info.capabilities()
    assert caps is not None
    assert caps.max_batch == 7
    assert "lazydist" in sys.modules


def test_load_builds_with_config_or_from_config(make_dist: MakeDist) -> None:
    make_dist("cfgdist", {"plain": "cfgdist:Plug", "viacfg": "cfgdist:FromConfig"})
    plain = adapters.load("plain", region="eu")
    assert plain.config == {"region": "eu"}  # type: ignore[attr-defined]
    built = adapters.load("viacfg", region="eu")
    assert built.config == {"via": "from_config", "region": "eu"}  # type: ignore[attr-defined]


def test_something_that_is_not_an_adapter_is_refused(make_dist: MakeDist) -> None:
    make_dist("baddist", {"bad": "baddist:NotAnAdapter"})
    with pytest.raises(AdapterError, match=r"does not implement leadflow\.ports\.Adapter"):
        adapters.load("bad")


def test_an_adapter_needs_no_reader_for_an_entity_it_does_not_declare(
    make_dist: MakeDist,
) -> None:
    from leadflow.ports import Entity, Page, read_pages

    make_dist("ltdist", {"lt": "ltdist:LeadsAndTouches"})
    adapter = adapters.load("lt", page_size=3)
    assert not hasattr(adapter, "read_accounts")
    assert list(read_pages(adapter, Entity.TOUCH)) == []
    pages: list[Page[object]] = list(read_pages(adapter, Entity.LEAD))
    assert pages == []
    with pytest.raises(ValidationError, match=r"not read by adapter 'lt' \(capabilities\.reads\)"):
        read_pages(adapter, Entity.ACCOUNT)


def test_an_incomplete_adapter_is_refused_naming_only_what_it_lacks(make_dist: MakeDist) -> None:
    make_dist("forgotdist", {"forgot": "forgotdist:ForgotTouches"})
    with pytest.raises(AdapterError) as info:
        adapters.load("forgot")
    message = str(info.value)
    assert message.endswith(
        "does not implement leadflow.ports.Adapter: it lacks close, read_touches"
    )
    for present in ("read_leads", "read_accounts", "read_activities", "write", "name,"):
        assert present not in message


def test_an_unknown_config_key_is_refused_for_a_plain_factory(make_dist: MakeDist) -> None:
    make_dist("keydist", {"keys": "keydist:LeadsAndTouches"})
    assert adapters.load("keys", page_size=2).page_size == 2  # type: ignore[attr-defined]
    with pytest.raises(ConfigError) as info:
        adapters.load("keys", pagesize=2)
    assert str(info.value) == ("pagesize: unknown key 'pagesize'; did you mean 'page_size'?")


def test_two_distributions_claiming_one_name(make_dist: MakeDist) -> None:
    make_dist("first-dist", {"twin": "first_dist:Plug"})
    make_dist("second-dist", {"twin": "second_dist:Plug"})
    assert adapters.available()["twin"].duplicated
    with pytest.raises(DuplicateAdapterError) as info:
        adapters.load("twin")
    message = str(info.value)
    assert "first-dist" in message
    assert "second-dist" in message


def test_missing_extra_names_the_pip_command(
    make_dist: MakeDist, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    make_dist("hubdist", {"hubby": "hubdist_impl:Plug"})
    (tmp_path / "hubdist_impl.py").write_text("import hubspot\n")
    monkeypatch.setitem(sys.modules, "hubspot", None)  # what an absent package looks like
    with pytest.raises(MissingExtraError) as info:
        adapters.load("hubby")
    assert 'pip install "leadflow[hubspot]"' in str(info.value)
    assert (info.value.extra, info.value.missing, info.value.adapter) == (
        "hubspot",
        "hubspot",
        "hubby",
    )
    assert isinstance(info.value, ImportError)


def test_other_import_errors_are_adapter_errors(make_dist: MakeDist, tmp_path: Path) -> None:
    make_dist("brokendist", {"broken": "brokendist_impl:Plug"})
    (tmp_path / "brokendist_impl.py").write_text("import no_such_module_anywhere\n")
    with pytest.raises(AdapterError, match="cannot import brokendist_impl:Plug") as info:
        adapters.load("broken")
    assert not isinstance(info.value, MissingExtraError)


def test_register_shadows_and_deregister_restores(make_dist: MakeDist) -> None:
    make_dist("shadowdist", {"shadow": "shadowdist:Plug"})
    import shadowdist  # type: ignore[import-not-found]

    adapters.register("shadow", shadowdist.FromConfig)
    try:
        assert adapters.available()["shadow"].distribution == "<registered in-process>"
        assert adapters.load("shadow").config["via"] == "from_config"  # type: ignore[attr-defined]
    finally:
        adapters.deregister("shadow")
    assert adapters.available()["shadow"].distribution == "shadowdist"
    with pytest.raises(AdapterNotFoundError):
        adapters.deregister("shadow")
    with pytest.raises(AdapterError, match="not callable"):
        adapters.register("x", 42)  # type: ignore[arg-type]
