"""The docstring examples of audiolab.experiments run and give what they show (STYLE.md rule 10)."""

import doctest
import importlib

import pytest

MODULES = [
    "audiolab.experiments._trials",
    "audiolab.experiments._procedures",
    "audiolab.experiments._quest",
    "audiolab.experiments._estimates",
    "audiolab.experiments._listeners",
    "audiolab.experiments._audiometry",
    "audiolab.experiments._matrix",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no example"
    assert result.failed == 0


def test_every_public_class_has_a_docstring():
    import audiolab.experiments as ex

    missing = []
    for name in ex.__all__:
        obj = getattr(ex, name)
        if isinstance(obj, type) and not (obj.__doc__ or "").strip():
            missing.append(name)
    assert not missing
