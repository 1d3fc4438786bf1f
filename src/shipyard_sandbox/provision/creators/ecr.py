"""AWS::ECR::Repository through ECR's API; an existing repository is kept and configured."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from shipyard_sandbox.provision.aws import Aws, Created, camel, error_code


def repository(aws: Aws, token: str, props: dict[str, Any]) -> Created:
    ecr, name = aws("ecr"), props.get("RepositoryName", token.lower())
    mutability = props.get("ImageTagMutability", "MUTABLE")
    filters = [{"filterType": f["ImageTagMutabilityExclusionFilterType"],
                "filter": f["ImageTagMutabilityExclusionFilterValue"]}
               for f in props.get("ImageTagMutabilityExclusionFilters", [])]
    scanning = {"scanOnPush": bool(props.get("ImageScanningConfiguration", {}).get("ScanOnPush"))}
    encryption = camel(props.get("EncryptionConfiguration", {"EncryptionType": "AES256"}))
    try:
        found = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
        state = "exists"
    except ClientError as exc:
        if error_code(exc) != "RepositoryNotFoundException":
            raise
        found, state = None, "created"
        ecr.create_repository(repositoryName=name, imageTagMutability=mutability,
                              imageScanningConfiguration=scanning,
                              encryptionConfiguration=encryption,
                              **({"imageTagMutabilityExclusionFilters": filters} if filters
                                 else {}),
                              tags=props.get("Tags", []))
    notes = []
    if found is not None:  # kept, and brought to the template's settings
        ecr.put_image_tag_mutability(repositoryName=name, imageTagMutability=mutability,
                                     **({"imageTagMutabilityExclusionFilters": filters}
                                        if filters else {}))
        ecr.put_image_scanning_configuration(repositoryName=name,
                                             imageScanningConfiguration=scanning)
        if found.get("encryptionConfiguration", {}).get("encryptionType") != encryption.get(
                "encryptionType"):
            notes.append("its encryption differs from the template's and cannot change")
    policy = props.get("LifecyclePolicy", {}).get("LifecyclePolicyText")
    if policy:
        ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=policy)
    if props.get("RepositoryPolicyText"):
        ecr.set_repository_policy(repositoryName=name,
                                  policyText=json.dumps(props["RepositoryPolicyText"]))
    return name, state, "; ".join(notes)


