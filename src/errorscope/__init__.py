"""errorscope: find and fix model errors.

The SDK is the product::

    import errorscope as es

    with es.open_workspace("ws") as ws:
        ws.import_coco("instances.json", images_dir="images/")
        print(ws.info())
"""

from errorscope.core.types import Kind, MediaType, MetadataType, RunStatus, Split
from errorscope.errors import (
    ConflictError,
    ErrorscopeError,
    InvalidInputError,
    InvalidQueryError,
    NotFoundError,
    SchemaVersionError,
    WorkspaceError,
    WorkspaceLockedError,
)
from errorscope.sdk import ImportReport, Workspace, open_workspace

__version__ = "0.1.0"

__all__ = [
    "ConflictError",
    "ErrorscopeError",
    "ImportReport",
    "InvalidInputError",
    "InvalidQueryError",
    "Kind",
    "MediaType",
    "MetadataType",
    "NotFoundError",
    "RunStatus",
    "SchemaVersionError",
    "Split",
    "Workspace",
    "WorkspaceError",
    "WorkspaceLockedError",
    "__version__",
    "open_workspace",
]
