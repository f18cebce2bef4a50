# Entrypoint of the stack's Alertmanager (run with /bin/sh, so no exec bit is needed): writes the Slack
# webhook URL from ALERT_SLACK_WEBHOOK_URL to the file alertmanager.yml reads (slack_api_url_file), on the
# tmpfs compose mounts at /run/secrets, readable by this user only; drops the variable; runs Alertmanager.
# The URL is never printed (printf is a shell builtin: not in any process's argv either). Unset, it is a
# placeholder on 127.0.0.1:9: notifications fail in Alertmanager's log, alerts still show in its UI and API.
set -eu
umask 077
printf '%s' "${ALERT_SLACK_WEBHOOK_URL:-http://127.0.0.1:9/slack-webhook-not-configured}" \
  > /run/secrets/alert_slack_webhook_url
unset ALERT_SLACK_WEBHOOK_URL
exec /bin/alertmanager "$@"
