"""Account-level settings a template asks for in its metadata, applied with its resources.

CloudFormation has no resource for an ECR registry's account settings (BLOB_MOUNTING, for
one): a team sets them once per account and region, by hand or with the CLI. A template can
name them under the top-level metadata key `Shipyard::AccountSettings`, as documentation for
people and as what `sandbox provision` applies to the sandbox:

    Metadata:
      Shipyard::AccountSettings:
        ECR: {BLOB_MOUNTING: ENABLED}
"""

from __future__ import annotations

from typing import Any

from shipyard_sandbox.provision.report import ProvisionError, ProvisionReport, ResourceOutcome

METADATA_KEY = "Shipyard::AccountSettings"


def apply_account_settings(aws: Any, template: dict[str, Any], report: ProvisionReport) -> None:
    """Put each `ECR` setting the template's metadata names; record each in the report."""
    settings = (template.get("Metadata") or {}).get(METADATA_KEY) or {}
    unknown = set(settings) - {"ECR"}
    if unknown:
        raise ProvisionError(f"{METADATA_KEY} names {', '.join(sorted(unknown))}; only ECR "
                             "account settings are applied")
    ecr = aws("ecr")
    for name, value in (settings.get("ECR") or {}).items():
        before = ecr.get_account_setting(name=name).get("value")
        if before != value:
            ecr.put_account_setting(name=name, value=str(value))
        report.settings.append(ResourceOutcome(
            f"ECR account setting {name}", "AWS::ECR::AccountSetting", "api",
            "exists" if before == value else "created", str(value),
            f"was {before}" if before != value else ""))
