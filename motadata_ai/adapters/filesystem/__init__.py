"""Local file system adapters: the artifact store, CSV datasets, the code version of runs.

An S3-compatible artifact store is not built; the ArtifactStorePort contract suite is what one
would have to pass.
"""

from motadata_ai.adapters.filesystem.artifacts import FilesystemArtifactStore
from motadata_ai.adapters.filesystem.code_version import detect_code_version
from motadata_ai.adapters.filesystem.datasets import dataset_from_csv, dataset_from_frame

__all__ = ["FilesystemArtifactStore", "dataset_from_csv", "dataset_from_frame", "detect_code_version"]
