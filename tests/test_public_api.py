"""The names ``import errorscope`` offers, checked as httpx checks its own."""

from __future__ import annotations

import enum
import inspect

import errorscope


def test_all_names_exist() -> None:
    for name in errorscope.__all__:
        assert hasattr(errorscope, name), name
    assert len(set(errorscope.__all__)) == len(errorscope.__all__)


def test_public_classes_and_functions_are_in_all() -> None:
    exported = set(errorscope.__all__)
    for name, member in vars(errorscope).items():
        if name.startswith("_"):
            continue
        if not (inspect.isclass(member) or inspect.isfunction(member)):
            continue
        if not member.__module__.startswith("errorscope"):
            continue
        assert name in exported, f"errorscope.{name} is public but not in __all__"


def test_exported_members_are_ours() -> None:
    for name in errorscope.__all__:
        member = getattr(errorscope, name)
        if inspect.isclass(member) or inspect.isfunction(member):
            assert member.__module__.startswith("errorscope."), name


def test_error_tree() -> None:
    for name in errorscope.__all__:
        member = getattr(errorscope, name)
        if inspect.isclass(member) and issubclass(member, Exception):
            assert issubclass(member, errorscope.ErrorscopeError), name
    assert issubclass(errorscope.WorkspaceLockedError, errorscope.WorkspaceError)
    assert issubclass(errorscope.SchemaVersionError, errorscope.WorkspaceError)


def test_enums_are_string_valued() -> None:
    for name in ("Kind", "MediaType", "MetadataType", "RunStatus", "Split"):
        cls = getattr(errorscope, name)
        assert issubclass(cls, enum.StrEnum), name
        assert all(member == member.value for member in cls)


def test_version() -> None:
    from importlib.metadata import version

    assert errorscope.__version__ == version("errorscope")
