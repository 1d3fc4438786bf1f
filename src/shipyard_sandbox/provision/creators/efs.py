"""AWS::EFS::AccessPoint through EFS's API (the file systems go through the stack)."""

from __future__ import annotations

from typing import Any

from shipyard_sandbox.provision.aws import Aws, Created


def access_point(aws: Aws, token: str, props: dict[str, Any]) -> Created:
    efs, file_system = aws("efs"), props["FileSystemId"]
    for point in efs.describe_access_points(FileSystemId=file_system)["AccessPoints"]:
        if point.get("ClientToken") == token:
            return point["AccessPointId"], "exists", ""
    params: dict[str, Any] = {"ClientToken": token, "FileSystemId": file_system,
                              "Tags": props.get("AccessPointTags", [])}
    if "PosixUser" in props:  # numbers in the API, strings in CloudFormation
        user = props["PosixUser"]
        params["PosixUser"] = {"Uid": int(user["Uid"]), "Gid": int(user["Gid"]),
                               **({"SecondaryGids": [int(g) for g in user["SecondaryGids"]]}
                                  if "SecondaryGids" in user else {})}
    if "RootDirectory" in props:
        root = dict(props["RootDirectory"])
        if "CreationInfo" in root:
            info = root["CreationInfo"]
            root["CreationInfo"] = {"OwnerUid": int(info["OwnerUid"]),
                                    "OwnerGid": int(info["OwnerGid"]),
                                    "Permissions": str(info["Permissions"])}
        params["RootDirectory"] = root
    return efs.create_access_point(**params)["AccessPointId"], "created", ""


