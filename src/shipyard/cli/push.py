"""`shipyard push`: build the image and publish it to ECR with its tags (push-to-ecr)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli.app import JsonFlag, Out, app, session
from shipyard.cli.options import BumpPart, DryRun, ManualVersion, MultiArch, Platforms
from shipyard.cli.scan import print_scan, publish_scan

if TYPE_CHECKING:
    from shipyard.usecases.push import PushResult


@app.command("push")
def push_command(
    ctx: typer.Context,
    manual: ManualVersion = None,
    bump: BumpPart = None,
    multi_arch: MultiArch = False,
    platform: Platforms = None,
    latest: Annotated[bool, typer.Option("--latest", help="Also tag 'latest'.")] = False,
    scan: Annotated[bool, typer.Option("--scan", help="Scan after pushing; fail on findings "
                                                      "at or above scan.threshold.")] = False,
    dry_run: DryRun = False,
    from_oci: Annotated[Path | None, typer.Option(
        "--from-oci", help="Push this OCI image layout instead of building.",
        show_default=False)] = None,
    sbom: Annotated[bool, typer.Option(
        "--sbom", help="Once pushed, attach a CycloneDX SBOM to each platform image (signed "
                       "too, with --sign).")] = False,
    sign: Annotated[bool, typer.Option(
        "--sign", help="Once pushed, sign the image and each platform image (cosign's "
                       "format) with the signing key.")] = False,
    sign_key: Annotated[str | None, typer.Option(
        "--key", help="With --sign: a PEM private key file or awskms:///alias/NAME (default: "
                      "SHIPYARD_SIGNING_KEY, then [signing] key).", show_default=False)] = None,
    git_tag: Annotated[bool, typer.Option(
        "--git-tag", help="Once the image is pushed, tag this commit v<version> in git "
                          "(stable versions only; the tag is not pushed).")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Build the image and push it to ECR with its tags (the brief's push-to-ecr)."""
    from shipyard.cli.progress import PushProgress
    from shipyard.errors import BuildError, UsageError
    from shipyard.usecases.push import PushOptions, push

    state = session(ctx)
    outputs = state.outputs()  # checked before any work: an unusable file stops it here
    config = state.config()
    out = Out(as_json)
    if sign_key is not None and not sign:
        raise UsageError("--key names the key --sign signs with: add --sign")
    signing_key = None
    if sign:  # the key is read now: a missing file stops the push before any work
        from shipyard.usecases.sign import open_signing_key

        signing_key = open_signing_key(config, state.context(config), sign_key)
    builder = None
    if from_oci is None:  # the builders are imported only by a push that builds
        from shipyard.adapters.builders import choose_builder

        try:
            builder = choose_builder(config.build.builder)
        except BuildError as exc:
            if not dry_run:
                raise
            out.warn(f"{exc.message} (a dry run does not build)")
    options = PushOptions(manual=manual, bump=bump, multi_arch=multi_arch,
                          platforms=tuple(platform or ()), latest=latest, scan=scan,
                          dry_run=dry_run, from_oci=from_oci, git_tag=git_tag,
                          sign_key=signing_key, sbom=sbom)
    with PushProgress(out) as progress:
        result = push(options, config, state.context(config, builder=builder,
                                                     progress=progress))
    for warning in result.warnings:
        out.warn(warning)
    if as_json:
        out.json(result.to_json())
    else:
        print_push(result, out, signing_key.name if signing_key else "")
    _publish(result, outputs)  # after the result is printed: it happened whatever follows
    if result.scan:
        from shipyard.usecases.scan import enforce_gate

        enforce_gate(result.scan)


def print_push(result: PushResult, out: Out, signing: str = "") -> None:
    decision = result.tags.version.decision
    target = result.target
    repo = result.repository
    out.line(f"version {decision.version} ({decision.source}: {decision.reason})")
    out.line(f"target {target.image_base} (account {target.account_id}, region {target.region})")
    state = ("will be created" if result.dry_run else "created") if result.repository_created \
        else "exists"
    out.line(f"repository {target.repository} {state}: scan on push "
             f"{'on' if repo.scan_on_push else 'off'}, tags {repo.tag_mutability} "
             f"(except {', '.join(repo.mutability_exclusions) or 'none'}), {repo.encryption}")
    out.line(f"platforms {', '.join(result.platforms)}")
    if result.promoted_from:
        added = (f"{decision.version}'s tags {'would be' if result.dry_run else 'are'} added "
                 "to it" if result.tags_to_set else f"it has {decision.version}'s tags already")
        out.line(f"promoted: {result.promoted_from} already names this commit's image "
                 f"{result.digest}; {added}, nothing is built or uploaded")
    verb = "would set" if result.dry_run else "set"
    for tag in result.tags_to_set:
        out.line(f"tag {tag}: {verb}")
    for tag in result.tags_unchanged:
        out.line(f"tag {tag}: already points at this image")
    for tag in sorted(result.held):
        out.line(f"tag {tag}: not moved ({result.held[tag]})")
    if result.report:
        report = result.report
        mounted = f" ({report.mounted_blobs} mounted from another repository)" \
            if report.mounted_blobs else ""
        out.line(f"pushed {report.pushed_blobs} blobs{mounted}, skipped "
                 f"{report.skipped_blobs} present; {report.bytes_uploaded / 1e6:.1f} MB sent")
    if result.image:
        out.line(f"image {result.image}")
    if result.git_tag:
        git_tag = result.git_tag
        if result.dry_run and git_tag.action == "create":
            out.line(f"git tag {git_tag.name} would be created at this commit")
        else:
            out.line(git_tag.note)
    if result.sbom:
        from shipyard.cli.sbom import print_sboms

        print_sboms(result.sbom, out)
    if result.signed:
        from shipyard.cli.sign import print_signed

        print_signed(result.signed, out)
    elif result.dry_run and signing:
        out.line(f"would sign the image and each platform image with {signing}")
    if result.scan:
        print_scan(result.scan, out)
    if result.dry_run:
        out.line("DRY RUN OK: nothing was created, pushed or tagged")


def _publish(result: PushResult, outputs) -> None:
    if result.image:
        # The tags that now point at this image: skipped moving tags are left out.
        on_image = [t for t in result.tags.plan.tags
                    if t in result.tags_to_set or t in result.tags_unchanged]
        # git-tag: the tag the workflow pushes (`git push origin refs/tags/...`), only one
        # this run created ("" otherwise).
        created = result.git_tag.name if result.git_tag and result.git_tag_created else ""
        outputs.set(image=result.image, digest=result.digest or "",
                    version=str(result.tags.version.decision.version),
                    tags=",".join(on_image), promoted=str(bool(result.promoted_from)).lower(),
                    **{"git-tag": created})
        rows = "".join(f"| `{t}` |\n" for t in on_image)
        outputs.summary(f"### Pushed {result.image}\n\n| tag |\n|---|\n{rows}")
    if result.scan:
        publish_scan(result.scan, outputs)
