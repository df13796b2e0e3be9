#!/usr/bin/env bash
# Installs, upgrades or rolls back one PresenceActors node under systemd (docs/operator-guide.md, "Install on a Linux VM
# with systemd").
#
#   deploy/systemd/install.sh [--from PUBLISHED_FOLDER] [--no-systemctl]
#   deploy/systemd/install.sh --rollback [--no-systemctl]
#
# Without --from it publishes the Host first (deploy/publish.sh; needs the .NET SDK). The previous version is kept as
# /opt/presenceactors.previous; --rollback swaps the two. /etc/presenceactors/application.properties is written only
# when there is none.
#
# PREFIX_OPT, PREFIX_ETC, PREFIX_STATE and SYSTEMD_DIR (defaults /opt, /etc, /var/lib, /etc/systemd/system) put the
# files under another root, e.g. to stage them or to test this script without root; the unit still names the real
# paths. PRESENCE_INSTALL_SKIP_USER=1 neither checks nor creates the presence user.
set -euo pipefail
# Whatever the caller's umask, the service user must be able to read the programme files.
umask 022

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
deploy=$(dirname "$here")

opt=${PREFIX_OPT:-/opt}
etc=${PREFIX_ETC:-/etc}
state=${PREFIX_STATE:-/var/lib}
units=${SYSTEMD_DIR:-/etc/systemd/system}

app=$opt/presenceactors
previous=$opt/presenceactors.previous
config=$etc/presenceactors
properties=$config/application.properties
data=$state/presenceactors
unit=presenceactors.service
executable=PresenceActors.Host
user=presence

usage() {
    cat <<'USAGE'
usage: deploy/systemd/install.sh [--from PUBLISHED_FOLDER] [--no-systemctl]
       deploy/systemd/install.sh --rollback [--no-systemctl]
  --from FOLDER    install this self-contained linux-x64 publish (deploy/publish.sh) instead of publishing here
  --rollback       put back the version the last install replaced (/opt/presenceactors.previous)
  --no-systemctl   do not call systemctl (staging, tests, or a machine without systemd)
USAGE
}

fail() {
    echo "install.sh: $*" >&2
    exit 1
}

from=""
rollback=no
systemctl=yes
while [[ $# -gt 0 ]]; do
    case $1 in
        --from)
            [[ $# -ge 2 && -n $2 ]] || fail "--from needs the published folder, e.g. --from publish/linux-x64."
            from=$2
            shift 2
            ;;
        --from=*) from=${1#--from=}; shift ;;
        --rollback) rollback=yes; shift ;;
        --no-systemctl) systemctl=no; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; fail "unknown argument '$1'." ;;
    esac
done

is_root=no
if [[ $(id -u) -eq 0 ]]; then is_root=yes; fi
# The real paths need root; a staging run (PREFIX_* set) does not. Said before anything is published or moved.
if [[ $is_root == no && -z ${PREFIX_OPT:-} ]]; then
    fail "installing into /opt, /etc and $units needs root: run it with sudo (or set PREFIX_OPT, PREFIX_ETC, PREFIX_STATE and SYSTEMD_DIR to stage the files elsewhere)."
fi

user_exists() { id -u "$user" >/dev/null 2>&1; }
group_exists() { getent group "$user" >/dev/null 2>&1; }

service_running() {
    [[ $systemctl == yes && -d /run/systemd/system ]] && systemctl is-active --quiet "$unit"
}

if [[ $rollback == yes ]]; then
    [[ -z $from ]] || fail "--rollback takes no --from: it puts back $previous."
    [[ -x $previous/$executable ]] || fail "$previous/$executable does not exist: there is no earlier version to roll back to."
    swap=$opt/presenceactors.rollback.$$
    if [[ -d $app ]]; then mv "$app" "$swap"; fi
    mv "$previous" "$app"
    if [[ -d $swap ]]; then mv "$swap" "$previous"; fi
    echo "Rolled back: $app is the version installed before; the one it replaced is now $previous"
    echo "(install.sh --rollback again undoes this)."
    if service_running; then
        echo "The service still runs the version rolled back from. Restart it: systemctl restart presenceactors"
    fi
    exit 0
fi

# 1. The published folder.
workspace=""
trap 'if [[ -n $workspace ]]; then rm -rf "$workspace"; fi' EXIT
if [[ -z $from ]]; then
    command -v dotnet >/dev/null 2>&1 \
        || fail "dotnet is not installed here: publish on a build machine with deploy/publish.sh and pass its folder with --from."
    workspace=$(mktemp -d)
    bash "$deploy/publish.sh" "$workspace/publish"
    from=$workspace/publish
fi
[[ -d $from ]] || fail "--from: folder '$from' does not exist."
from=$(cd "$from" && pwd)
[[ -f $from/$executable ]] \
    || fail "--from: '$from' has no $executable; give the folder deploy/publish.sh wrote (self-contained, linux-x64)."
if [[ -d $app && $from == "$(cd "$app" && pwd)" ]]; then
    fail "--from: '$from' is the installed folder itself; publish into another folder."
fi

# 2. The service's user.
if [[ ${PRESENCE_INSTALL_SKIP_USER:-0} != 1 ]] && ! user_exists; then
    [[ $is_root == yes ]] || fail "the system user '$user' does not exist: run as root to create it (or create it yourself)."
    if group_exists; then
        useradd --system --gid "$user" --home-dir /var/lib/presenceactors --no-create-home --shell /usr/sbin/nologin "$user"
    else
        useradd --system --user-group --home-dir /var/lib/presenceactors --no-create-home --shell /usr/sbin/nologin "$user"
    fi
    echo "Created the system user $user."
fi

# 3. The programme: staged beside the installed one, then swapped in; the installed one becomes .previous.
mkdir -p "$opt"
staging=$opt/presenceactors.new
rm -rf "$staging"
cp -R "$from" "$staging"
chmod -R u+rwX,go+rX,go-w "$staging"
chmod 0755 "$staging/$executable"
if [[ $is_root == yes ]]; then chown -R root:root "$staging"; fi
replaced=no
if [[ -d $app ]]; then
    rm -rf "$previous"
    mv "$app" "$previous"
    replaced=yes
fi
mv "$staging" "$app"
if [[ $replaced == yes ]]; then
    echo "Installed $app; the version it replaced is $previous (install.sh --rollback puts it back)."
else
    echo "Installed $app"
fi

# 4. The configuration: the example only when there is none; it holds secrets, so only root and the service read it.
mkdir -p "$config"
if [[ -e $properties ]]; then
    echo "Kept $properties."
else
    cp "$deploy/application.properties" "$properties"
    chmod 0640 "$properties"
    if [[ $is_root == yes ]]; then
        if group_exists; then chown "root:$user" "$properties"; else echo "install.sh: no group '$user': $properties stays root:root." >&2; fi
    fi
    echo "Wrote $properties from deploy/application.properties: fill in its placeholders."
fi

# 5. The state folder (systemd makes it too, from StateDirectory=; made here so that config check can run before the first start).
mkdir -p "$data"
chmod 0700 "$data"
if [[ $is_root == yes ]] && user_exists; then chown "$user:$user" "$data"; fi

# 6. The unit.
mkdir -p "$units"
cp "$here/$unit" "$units/$unit"
chmod 0644 "$units/$unit"
echo "Installed $units/$unit"
if [[ $systemctl == yes ]]; then
    if [[ -d /run/systemd/system ]]; then
        systemctl daemon-reload
    else
        echo "install.sh: systemd is not running here; run 'systemctl daemon-reload' on the node." >&2
    fi
fi

cat <<NEXT

Next:
  # check the configuration as the service will read it
  sudo -u presence env presence__dataFolder=/var/lib/presenceactors \\
      /opt/presenceactors/PresenceActors.Host config check --config /etc/presenceactors/application.properties
  systemctl enable --now presenceactors
  journalctl -u presenceactors -f
  curl http://127.0.0.1:9110/healthz/ready   # with presence.admin.token set: -H "Authorization: Bearer <token>"
NEXT
if service_running; then
    echo "The service still runs the version installed before. Restart it: systemctl restart presenceactors"
fi
