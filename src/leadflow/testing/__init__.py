"""Test support for users of leadflow: public hypothesis strategies and an opt-in pytest plugin.

Scope: code a *test suite* imports. Nothing here is imported by ``import leadflow``; importing
:mod:`leadflow.testing.strategies` needs ``hypothesis`` (the ``test`` extra), and the plugin
:mod:`leadflow.testing.plugin` is enabled only by ``pytest_plugins = ["leadflow.testing.plugin"]``.
"""

__all__: list[str] = []
