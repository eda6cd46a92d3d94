#!/bin/sh
# azd preprovision hook: checks the settings azd cannot make up, and makes the web session key
# (DESKMAIL_SESSION_KEY) and the thread-marker key (DESKMAIL_THREAD_KEY) once per azd
# environment. The keys go to Key Vault through the @secure() parameters sessionKey and
# threadKey; azd keeps them in .azure/<env>/.env on this machine.
set -eu

missing=""
[ -n "${DESKMAIL_WEB_CLIENT_ID:-}" ] || missing="$missing DESKMAIL_WEB_CLIENT_ID"
[ -n "${DESKMAIL_SYSTEM_MAIL_DOMAIN:-}" ] || missing="$missing DESKMAIL_SYSTEM_MAIL_DOMAIN"
if [ -n "$missing" ]; then
  echo "deskmail: set these first (docs/deployment.md):" >&2
  for name in $missing; do echo "  azd env set $name <value>" >&2; done
  exit 1
fi

if [ -z "${DESKMAIL_SESSION_KEY:-}" ]; then
  key=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
  azd env set DESKMAIL_SESSION_KEY "$key" >/dev/null
  echo "deskmail: made a new web session key (stored in Key Vault as deskmail-session-key)"
fi

if [ -z "${DESKMAIL_THREAD_KEY:-}" ]; then
  key=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
  azd env set DESKMAIL_THREAD_KEY "$key" >/dev/null
  echo "deskmail: made a new thread-marker key (stored in Key Vault as deskmail-thread-key)"
fi
