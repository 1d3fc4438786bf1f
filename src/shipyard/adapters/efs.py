"""EFS: the file systems tasks mount."""

from __future__ import annotations

from shipyard.adapters.aws import Aws, call


def file_system_exists(aws: Aws, file_system_id: str) -> bool:
    """Whether an EFS file system with this id exists."""
    found = call("elasticfilesystem:DescribeFileSystems",
                 lambda: aws.client("efs").describe_file_systems(FileSystemId=file_system_id),
                 absent={"FileSystemNotFound"})
    return bool(found and found.get("FileSystems"))
