"""AWS::SecretsManager::Secret through Secrets Manager's API, generated values included."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from shipyard_sandbox.provision.aws import Aws, Created, error_code


def secret(aws: Aws, token: str, props: dict[str, Any]) -> Created:
    secrets, name = aws("secretsmanager"), props.get("Name", token)
    try:
        return secrets.describe_secret(SecretId=name)["ARN"], "exists", ""
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
    value = props.get("SecretString")
    generate = props.get("GenerateSecretString")
    if generate is not None:
        options = {key: generate[key] for key in (
            "PasswordLength", "ExcludeCharacters", "ExcludeNumbers", "ExcludePunctuation",
            "ExcludeUppercase", "ExcludeLowercase", "IncludeSpace", "RequireEachIncludedType")
            if key in generate}
        password = secrets.get_random_password(**options)["RandomPassword"]
        if "SecretStringTemplate" in generate:
            document = json.loads(generate["SecretStringTemplate"])
            document[generate["GenerateStringKey"]] = password
            value = json.dumps(document)
        else:
            value = password
    params = {"Name": name, "SecretString": value or "",
              **{key: props[key] for key in ("Description", "KmsKeyId", "Tags") if key in props}}
    return secrets.create_secret(**params)["ARN"], "created", ""


