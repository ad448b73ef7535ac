"""Every private Ray and datasketch name resolves on the installed versions, so an upgrade that
moves one fails here first, naming it."""
from __future__ import annotations

import pytest

from raypretrain import compat


@pytest.mark.parametrize("name", sorted(compat.PRIVATE))
def test_every_private_name_resolves(name):
    assert getattr(compat, name) is not None


def test_a_moved_name_says_what_and_which_version(monkeypatch):
    monkeypatch.setitem(compat.PRIVATE, "gone", ("ray.data._internal.no_such_module", ""))
    with pytest.raises(ImportError, match=r"ray.data._internal.no_such_module.* written against ray 2.60"):
        compat.resolve("gone")


def test_the_installed_versions_are_the_tested_ones():
    from importlib.metadata import version

    for package, tested in compat.TESTED.items():
        assert version(package).startswith(tested), (package, version(package), tested)
