"""EFS: the file systems tasks mount."""

from __future__ import annotations

from shipyard.adapters.aws import Aws, call


class Efs:
    """The EFS lookups Shipyard makes."""

    def __init__(self, aws: Aws) -> None:
        self._aws = aws

    def file_system_exists(self, file_system_id: str) -> bool:
        """Whether an EFS file system with this id exists."""
        found = call("elasticfilesystem:DescribeFileSystems",
                     lambda: self._aws.client("efs").describe_file_systems(
                         FileSystemId=file_system_id),
                     absent={"FileSystemNotFound"})
        return bool(found and found.get("FileSystems"))
