#!/usr/bin/env bash
# Sets up this machine (see setup.sh), then backs up through borg-gate for real: a throw-away
# sshd on 127.0.0.1 as the current user, a policy with one append-only client, borg init,
# create, list and extract through the gate, one refused request, and the audit records.
# Everything lives in a temp directory that is removed at the end (set KEEP=1 to keep it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

gate="$(pwd)/dist/borg-gate.js"
demo="$(mktemp -d /tmp/borg-gate-demo-XXXXXX)"
chmod 755 "$demo"
sshd_pid=""
listen_pid=""
cleanup() {
  [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null || true
  [ -n "$listen_pid" ] && kill "$listen_pid" 2>/dev/null && wait "$listen_pid" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "demo files kept in $demo"; else rm -rf "$demo"; fi
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Keys and a throw-away sshd on 127.0.0.1"
mkdir -p "$demo/srv" "$demo/client" "$demo/source/etc" "$demo/restore" "$demo/log"
ssh-keygen -q -t ed25519 -N '' -C demo-host -f "$demo/client/id_demo"
ssh-keygen -q -t ed25519 -N '' -f "$demo/ssh_host_key"
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
cat > "$demo/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $demo/ssh_host_key
PidFile $demo/sshd.pid
AuthorizedKeysFile $demo/authorized_keys
UsePAM no
StrictModes no
PasswordAuthentication no
PermitUserEnvironment no
ExposeAuthInfo yes
PermitTTY no
$( [ "$(id -u)" -eq 0 ] && echo 'PermitRootLogin forced-commands-only' )
CONF
[ "$(id -u)" -eq 0 ] && mkdir -p /run/sshd
echo "sshd listens on 127.0.0.1:$port"

step "Policy: client demo-host may only append to $demo/srv/demo-host"
cat > "$demo/policy.yaml" <<POLICY
version: 1
audit_log: $demo/log/audit.log
clients:
  - id: demo-host
    keys:
      - $(cat "$demo/client/id_demo.pub")
    repositories:
      - path: $demo/srv/demo-host
        name: demo-host
    mode: append-only
POLICY
chmod 644 "$demo/policy.yaml"
cat "$demo/policy.yaml"
"$gate" policy check --policy "$demo/policy.yaml"

if [ -x /usr/sbin/sshd ] && [ "${DEMO_LISTEN:-0}" != 1 ]; then
  step "authorized_keys generated from the policy (borg-gate keys write)"
  "$gate" keys write --policy "$demo/policy.yaml" --gate-path "$gate" --file "$demo/authorized_keys"
  cut -c1-200 "$demo/authorized_keys"
  "$gate" keys check --policy "$demo/policy.yaml" --gate-path "$gate" --file "$demo/authorized_keys" \
    && echo "keys check: the installed entries match the policy"
  /usr/sbin/sshd -f "$demo/sshd_config"
  # sshd writes its PID file after it forks into the background.
  for _ in $(seq 50); do [ -s "$demo/sshd.pid" ] && break; sleep 0.1; done
  sshd_pid=$(cat "$demo/sshd.pid")
else
  # Without OpenSSH (or with DEMO_LISTEN=1), borg-gate is the SSH server itself.
  step "borg-gate listen on 127.0.0.1:$port (no sshd needed)"
  "$gate" listen --port "$port" --host-key "$demo/listen_host_key" --policy "$demo/policy.yaml" \
    --audit-log "$demo/log/fallback.log" --log-file "$demo/log/listen.log" &
  listen_pid=$!
  for _ in $(seq 50); do grep -q listen_start "$demo/log/listen.log" 2>/dev/null && break; sleep 0.1; done
  head -1 "$demo/log/listen.log"
fi

export BORG_RSH="ssh -F /dev/null -i $demo/client/id_demo -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
export BORG_BASE_DIR="$demo/client/borg" BORG_PASSPHRASE=demo-passphrase
repo="ssh://$(id -un)@127.0.0.1:$port$demo/srv/demo-host"
echo "hello from the demo" > "$demo/source/etc/motd"

step "borg init, create, list, extract through borg-gate"
(set -x; borg init -e repokey "$repo")
(cd "$demo/source" && set -x && borg create --stats "$repo::first" etc)
(set -x; borg list "$repo")
(cd "$demo/restore" && set -x && borg extract "$repo::first")
echo "restored: $(cat "$demo/restore/etc/motd")"

step "Append-only: deleting the archive is refused, and the archive stays"
(set -x; borg delete "$repo::first") || echo "(borg exited with $?, as expected)"
(set -x; borg list --short "$repo")

step "A refused request: another repository"
(set -x; borg list "ssh://$(id -un)@127.0.0.1:$port$demo/srv/someone-else") || echo "(borg exited with $?, as expected)"

step "Audit records (borg-gate audit, then audit summary and audit verify)"
"$gate" audit --file "$demo/log/audit.log"
"$gate" audit summary --file "$demo/log/audit.log"
"$gate" audit verify --file "$demo/log/audit.log"
