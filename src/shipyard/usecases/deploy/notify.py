"""Tell the world that a deploy or rollback started, succeeded or failed.

Four channels, each optional and each on its own: an SNS message
(`[notifications] sns_topic`), a Slack incoming-webhook message (the URL in the variable
`slack_webhook_env` names, else in the Secrets Manager secret `slack_webhook_secret`), the
GitHub job summary (at the end only), and CloudWatch metrics (`[metrics]`). A channel that
fails is one warning line: the deployment's outcome is what it is, whatever a notification
does, so `announce` never raises (Ctrl-C aside).

The Slack URL is a credential (whoever has it can post to the channel): it is registered
with the redaction the moment it is read, so no output, log or error can show it.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from shipyard.adapters.github import GitHubOutputs
from shipyard.config import Config, NotificationSettings
from shipyard.errors import ShipyardError
from shipyard.redaction import redact_output, register_secret
from shipyard.usecases.context import Context
from shipyard.usecases.deploy import messages
from shipyard.usecases.deploy.report import DeployReport

Warn = Callable[[str], None]


def announce(report: DeployReport, config: Config, ctx: Context, warn: Warn) -> None:
    """Send `report` everywhere it is configured to go; failures go to `warn`, one line each."""
    notifications = config.notifications
    # Masked before any channel runs: another channel's error must not show it either.
    if notifications.slack_webhook_env:
        register_secret(ctx.env.get(notifications.slack_webhook_env, "").strip())
    channels: list[tuple[str, Callable[[], None]]] = []
    if notifications.sns_topic:
        channels.append(("SNS notification not sent",
                         lambda: _publish(report, notifications, ctx)))
    channels.append(("Slack notification not sent",
                     lambda: _post_to_slack(report, notifications, ctx)))
    if (notifications.job_summary and report.outcome in messages.ENDED
            and ctx.env.get("GITHUB_STEP_SUMMARY")):
        channels.append(("job summary not written",
                         lambda: GitHubOutputs(ctx.env).summary(messages.job_summary(report))))
    if config.metrics.enabled:
        channels.append(("deployment metrics not sent", lambda: ctx.metrics.put(
            config.metrics.namespace, messages.metric_data(report))))
    for failed, send in channels:
        try:
            send()
        except Exception as exc:  # any failure, ours or a library's: a warning, never more
            detail = str(exc) if isinstance(exc, ShipyardError) else f"{type(exc).__name__}: {exc}"
            warn(" ".join(redact_output(f"{failed}: {detail}").split()))


def _publish(report: DeployReport, settings: NotificationSettings, ctx: Context) -> None:
    topic = settings.sns_topic
    if not topic.startswith("arn:"):
        topic = messages.topic_arn(topic, ctx.region, ctx.sts.account_id())
    ctx.sns.publish(topic, messages.text(report), messages.subject(report),
                    {"environment": report.environment, "outcome": report.outcome,
                     "service": report.service, "command": report.command})


def _post_to_slack(report: DeployReport, settings: NotificationSettings, ctx: Context) -> None:
    url = slack_webhook_url(settings, ctx)
    if url:
        ctx.webhook.post(url, messages.slack_payload(report), name="Slack webhook")


def slack_webhook_url(settings: NotificationSettings, ctx: Context) -> str:
    """The Slack incoming-webhook URL, registered as a secret; "" when none is configured.

    The variable wins; the secret is read only when the variable is unset or empty. The
    secret holds the URL itself, or a JSON object with it under "url" (or "webhook_url").
    """
    variable = settings.slack_webhook_env
    url = ctx.env.get(variable, "").strip() if variable else ""
    if url:
        register_secret(url)
        return url
    if not settings.slack_webhook_secret:
        return ""
    value = ctx.secrets.secret_string(settings.slack_webhook_secret).strip()
    if value.startswith("{"):
        try:
            document = json.loads(value)
        except ValueError:
            document = {}
        value = str(document.get("url") or document.get("webhook_url") or "").strip()
        register_secret(value)
    if not value:
        raise ShipyardError(f"the secret {settings.slack_webhook_secret} holds no webhook URL; "
                            "put the URL in it (the whole SecretString, or JSON "
                            '{"url": "..."})')
    return value
