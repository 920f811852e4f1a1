#!/bin/sh
# Example alert command for `borg-gate check`. Set it in the policy:
#
#   checks:
#     defaults:
#       alert_command: [/usr/local/lib/borg-gate/alert.sh]
#
# borg-gate runs it without a shell, once per alert, with a clean environment:
#   BORG_GATE_ALERT_KIND          failure | overdue | recovery
#   BORG_GATE_ALERT_REPOSITORY    absolute repository path
#   BORG_GATE_ALERT_CHECK         repository_only | verify_data
#   BORG_GATE_ALERT_OUTCOME       ok | failed | skipped | timeout | refused (empty if never run)
#   BORG_GATE_ALERT_MESSAGE       borg's error lines, control characters escaped
#   BORG_GATE_ALERT_LAST_RUN      ISO 8601 time, or empty
#   BORG_GATE_ALERT_LAST_SUCCESS  ISO 8601 time, or empty
#   BORG_GATE_ALERT_TIME          when the alert was raised
#   BORG_GATE_ALERT_HOST          this server's host name
# and the same fields as one JSON object on stdin. A non-zero exit, or a run
# longer than 60 s, makes `borg-gate check` exit 1 and print the output.
#
# As shipped, it only writes one line to stderr (the journal under systemd) and
# contacts nothing. Uncomment one of the blocks below to send the alert.

set -eu

subject="borg-gate ${BORG_GATE_ALERT_KIND}: ${BORG_GATE_ALERT_CHECK} of ${BORG_GATE_ALERT_REPOSITORY} on ${BORG_GATE_ALERT_HOST}"

printf '%s: %s\n' "$subject" "${BORG_GATE_ALERT_MESSAGE}" >&2

# --- Mail (needs mailutils or bsd-mailx) -----------------------------------------
# Under deploy/systemd/borg-gate-check.service, NoNewPrivileges= stops setgid
# helpers such as Postfix's postdrop, and /var/spool is read-only. Point `mail` at
# an SMTP relay (msmtp, or Postfix's SMTP port) instead of the local queue.
# {
#   printf 'Outcome:      %s\n' "${BORG_GATE_ALERT_OUTCOME}"
#   printf 'Last success: %s\n' "${BORG_GATE_ALERT_LAST_SUCCESS:-never}"
#   printf 'Message:      %s\n' "${BORG_GATE_ALERT_MESSAGE}"
# } | mail -s "$subject" backup-admins@example.org

# --- POST the JSON document to a webhook ---------------------------------------
# The document on stdin goes out unchanged. --fail turns an HTTP error into a
# non-zero exit, so borg-gate reports the alert as failed.
# curl --silent --show-error --fail --max-time 30 \
#   --header 'Content-Type: application/json' \
#   --data-binary @- \
#   https://alerts.example.org/hooks/borg-gate
