"""The Python SDK: the product. The CLI and the server are thin clients of it."""

from errorscope.sdk.workspace import ImportReport, Workspace, open_workspace

__all__ = ["ImportReport", "Workspace", "open_workspace"]
