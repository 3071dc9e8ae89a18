"""One concept, one error: a missing extra is an OptionalDependencyError, adapters or not."""

from __future__ import annotations

import pickle

from leadflow.errors import (
    AdapterError,
    LeadflowError,
    MissingExtraError,
    OptionalDependencyError,
)


def test_missing_extra_is_the_adapter_flavour_of_optional_dependency() -> None:
    err = MissingExtraError("hubby", "hubspot", "hubspot")
    assert isinstance(err, OptionalDependencyError)
    assert isinstance(err, AdapterError)
    assert isinstance(err, ImportError)
    assert (err.adapter, err.feature, err.extra, err.missing) == (
        "hubby",
        "the 'hubby' adapter",
        "hubspot",
        "hubspot",
    )
    assert 'pip install "leadflow[hubspot]"' in str(err)
    assert "'hubby'" in str(err)


def test_both_messages_read_alike() -> None:
    core = OptionalDependencyError("country holidays", "holidays", "holidays")
    adapter = MissingExtraError("sf", "salesforce", "simple_salesforce")
    assert not isinstance(core, AdapterError)
    assert isinstance(core, LeadflowError)
    for err in (core, adapter):
        assert str(err).startswith(f"{err.feature} needs the {err.missing!r} package")
        assert str(err).endswith(f'pip install "leadflow[{err.extra}]"')


def test_they_pickle_with_their_attributes() -> None:
    for err in (
        OptionalDependencyError("leadflow.etl", "etl", "pyarrow"),
        MissingExtraError("sf", "salesforce", "simple_salesforce"),
    ):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err)
        assert str(back) == str(err)
        assert (back.feature, back.extra, back.missing) == (err.feature, err.extra, err.missing)
