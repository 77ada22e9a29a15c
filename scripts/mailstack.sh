#!/usr/bin/env bash
# mailstack.sh - throw-away, loopback-only mail server stack (Postfix + Dovecot)
# for testing SMTP / IMAP / POP3 client code against real servers.
#
#   mailstack.sh up DIR         install packages if missing, (re)write config under
#                               DIR, start a private postfix + dovecot instance,
#                               wait until every port answers, print the settings
#   mailstack.sh down DIR       stop exactly the processes `up` started (recorded
#                               PIDs, checked against /proc); deletes nothing
#   mailstack.sh status DIR     running or not (exit 0 = running)
#   mailstack.sh env DIR        print the settings as KEY=value lines
#   mailstack.sh selftest DIR   end-to-end check with swaks + curl (installs them)
#   mailstack.sh bench DIR [N]  submit N (default 100, max 200) messages with swaks
#                               over STARTTLS+AUTH and report messages/second
#
# Everything lives under DIR: TLS material (DIR/tls, CA = DIR/tls/ca.crt),
# configs, queue, sockets, pid files, logs (DIR/log) and Maildirs (DIR/mail).
# The system's /etc/postfix and /etc/dovecot are not used.  Must run as root
# (Postfix and Dovecot masters need root to drop privileges to their own
# users); DIR and its parents must be world-traversable (e.g. under /tmp).
#
# Ports (override with the environment variables shown), all on 127.0.0.1
# and, when the kernel has it, ::1:
#   MAILSTACK_SMTP_STARTTLS_PORT=10587  submission, STARTTLS mandatory, AUTH after TLS
#   MAILSTACK_SMTPS_PORT=10465          submission, implicit TLS, AUTH
#   MAILSTACK_IMAP_PORT=10143           IMAP, STARTTLS offered (see loopback note below)
#   MAILSTACK_IMAPS_PORT=10993          IMAP, implicit TLS
#   MAILSTACK_POP3_PORT=10110           POP3, STLS offered (see loopback note below)
#   MAILSTACK_POP3S_PORT=10995          POP3, implicit TLS
# Negative-test ports: no TLS at all, STARTTLS/STLS NOT offered, login in clear
# accepted (a client that insists on TLS must refuse them):
#   MAILSTACK_SMTP_PLAIN_PORT=11025     SMTP, AUTH PLAIN/LOGIN offered in cleartext
#   MAILSTACK_IMAP_PLAIN_PORT=11143     IMAP (second, TLS-less dovecot instance)
#   MAILSTACK_POP3_PLAIN_PORT=11110     POP3 (same)
# Loopback note: Dovecot 2.3 treats a connection whose remote IP equals its
# local IP as secure, so on 10143/10110 it does NOT refuse LOGIN/USER before
# STARTTLS/STLS (and advertises no LOGINDISABLED).  Postfix does enforce TLS
# before AUTH/MAIL on 10587.
# Users: alice@example.test / $MAILSTACK_ALICE_PASSWORD (default alice-pass)
#        bob@example.test   / $MAILSTACK_BOB_PASSWORD   (default bob-pass)
#        carol@example.test / $MAILSTACK_CAROL_PASSWORD (default carol-pass): reserved for
#        tests that empty a whole mailbox (POP3 has only the INBOX); nothing else uses it
set -Eeuo pipefail
umask 022

SMTP_STARTTLS_PORT=${MAILSTACK_SMTP_STARTTLS_PORT:-10587}
SMTPS_PORT=${MAILSTACK_SMTPS_PORT:-10465}
SMTP_PLAIN_PORT=${MAILSTACK_SMTP_PLAIN_PORT:-11025}
IMAP_PORT=${MAILSTACK_IMAP_PORT:-10143}
IMAPS_PORT=${MAILSTACK_IMAPS_PORT:-10993}
POP3_PORT=${MAILSTACK_POP3_PORT:-10110}
POP3S_PORT=${MAILSTACK_POP3S_PORT:-10995}
IMAP_PLAIN_PORT=${MAILSTACK_IMAP_PLAIN_PORT:-11143}
POP3_PLAIN_PORT=${MAILSTACK_POP3_PLAIN_PORT:-11110}
DOMAIN=example.test
ALICE=alice@$DOMAIN
BOB=bob@$DOMAIN
CAROL=carol@$DOMAIN
ALICE_PASS=${MAILSTACK_ALICE_PASSWORD:-alice-pass}
BOB_PASS=${MAILSTACK_BOB_PASSWORD:-bob-pass}
CAROL_PASS=${MAILSTACK_CAROL_PASSWORD:-carol-pass}
WAIT_SECS=${MAILSTACK_WAIT_SECS:-20}
UP_OK=0

SERVER_PKGS=(postfix dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd openssl)
CLIENT_PKGS=(swaks libnet-ssleay-perl curl)
DOVECOT_BIN=/usr/sbin/dovecot

log() { printf 'mailstack: %s\n' "$*" >&2; }
die() { printf 'mailstack: ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
    exit 2
}

# ----------------------------------------------------------------- paths
set_dir() {
    [ -n "${1:-}" ] || usage
    DIR=$(realpath -m -- "$1")
    # a dedicated directory at least two levels deep (e.g. /tmp/ms), never a
    # system location: 'up' creates sub-directories and chowns some of them
    case "$DIR" in
        /*/*) ;;
        *) die "refusing to use $DIR as state directory (use e.g. /tmp/mailstack-test)" ;;
    esac
    case "$DIR" in
        /etc/* | /usr/* | /bin/* | /sbin/* | /lib*/* | /boot/* | /proc/* | /sys/* | /dev/* | /run/* | /var/lib/* | /var/spool/* | /var/mail/*)
            die "refusing to use $DIR (system location) as state directory" ;;
    esac
    # unix socket paths (DIR/dovecot/run/...) must stay below 108 bytes
    [ "${#DIR}" -le 64 ] || die "DIR path too long (${#DIR} > 64 chars): $DIR"
    TLS=$DIR/tls
    DC=$DIR/dovecot
    DCRUN=$DC/run
    DCP=$DIR/dovecot-plain
    DCPRUN=$DCP/run
    PF=$DIR/postfix
    PFCONF=$PF/conf
    PFSPOOL=$PF/spool
    MAILROOT=$DIR/mail
    LOGD=$DIR/log
    PIDD=$DIR/pids
    ENVFILE=$DIR/mailstack.env
}

need_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }

have_ipv6_lo() {
    [ "${MAILSTACK_IPV6:-auto}" != no ] &&
        grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null
}

# ------------------------------------------------------------ packages
missing_pkgs() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
    done
}

apt_install() {
    local missing
    missing=$(missing_pkgs "$@" | tr '\n' ' ')
    [ -n "${missing// /}" ] || return 0
    log "installing packages: $missing"
    # "No configuration": no /etc/postfix/main.cf, so the system instance stays unconfigured.
    case " $missing " in
        *" postfix "*) echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections ;;
    esac
    (
        # Keep the packages' system instances (port 25/143/993/110/995 on all
        # interfaces) from being started by the maintainer scripts: add a
        # temporary policy-rc.d only if the system has none, and remove it again.
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            trap 'rm -f /usr/sbin/policy-rc.d' EXIT INT TERM HUP
            printf '#!/bin/sh\n# temporary, from mailstack.sh\nexit 101\n' >/usr/sbin/policy-rc.d
            chmod 755 /usr/sbin/policy-rc.d
        fi
        export DEBIAN_FRONTEND=noninteractive
        # shellcheck disable=SC2086
        apt-get install -y -q --no-install-recommends $missing ||
            { apt-get update -q && apt-get install -y -q --no-install-recommends $missing; }
    ) >&2 || die "package installation failed"
}

# ------------------------------------------------------------- processes
# pid file format: "PID STARTTIME" (starttime = field 22 of /proc/PID/stat,
# so a recycled PID is never mistaken for ours)
proc_starttime() { awk '{sub(/^.*\) /, ""); print $20}' "/proc/$1/stat" 2>/dev/null; }

# "PID STARTTIME" still names a live (non-zombie) process
same_alive() { # pid starttime
    local f
    [ -n "$1" ] && f=$(awk '{sub(/^.*\) /, ""); print $1, $20}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ "$f" != "Z $2" ] && [ "${f#* }" = "$2" ] && [ "${f%% *}" != X ]
}

record_pid() { # name pid
    local st
    st=$(proc_starttime "$2") || return 1
    [ -n "$st" ] || return 1
    echo "$2 $st" >"$PIDD/$1.pid"
}

# prints the pid if the recorded process is still the same, live process
live_pid() { # name
    local f=$PIDD/$1.pid pid st
    [ -s "$f" ] || return 1
    read -r pid st <"$f" || return 1
    same_alive "$pid" "$st" || return 1
    echo "$pid"
}

# direct children of $1 (from /proc, so procps is not needed)
children_of() {
    local f line ppid
    for f in /proc/[0-9]*/stat; do
        { read -r line <"$f"; } 2>/dev/null || continue
        read -r _ ppid _ <<<"${line##*) }"
        [ "$ppid" = "$1" ] && { f=${f#/proc/}; echo "${f%/stat}"; }
    done
    return 0
}

# "pid starttime" of every descendant of $1
descendants() {
    local pid
    for pid in $(children_of "$1"); do
        echo "$pid $(proc_starttime "$pid")"
        descendants "$pid"
    done
}

stop_one() { # name
    local name=$1 pid st kids i
    if ! pid=$(live_pid "$name"); then
        [ -e "$PIDD/$name.pid" ] && log "$name: not running (stale pid file removed)"
        rm -f "$PIDD/$name.pid"
        return 0
    fi
    st=$(proc_starttime "$pid")
    kids=$(descendants "$pid")
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
        same_alive "$pid" "$st" || break
        sleep 0.1
    done
    if same_alive "$pid" "$st"; then
        log "$name: pid $pid ignored SIGTERM for 10 s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    # Children normally exit with their master, but dovecot leaves its
    # processes running while a client session is open.  Give them 1 s, then
    # SIGTERM, 2 s later SIGKILL -- only the descendants recorded above, and
    # only while they are still the same processes.
    kids_alive() {
        local p pst
        while read -r p pst; do
            same_alive "$p" "$pst" && return 0
        done <<<"$kids"
        return 1
    }
    signal_kids() {
        local p pst
        while read -r p pst; do
            same_alive "$p" "$pst" && kill "-$1" "$p" 2>/dev/null || true
        done <<<"$kids"
    }
    for i in $(seq 1 10); do kids_alive || break; sleep 0.1; done
    if kids_alive; then
        log "$name: terminating leftover child processes (open client sessions?)"
        signal_kids TERM
        for i in $(seq 1 20); do kids_alive || break; sleep 0.1; done
        kids_alive && signal_kids KILL
    fi
    rm -f "$PIDD/$name.pid"
}

# -------------------------------------------------------------------- TLS
gen_tls() {
    mkdir -p "$TLS"
    chmod 755 "$TLS"
    if [ -s "$TLS/ca.crt" ] && [ -s "$TLS/server.crt" ] && [ -s "$TLS/server.key" ] &&
        openssl x509 -checkend 86400 -noout -in "$TLS/server.crt" >/dev/null 2>&1 &&
        openssl verify -CAfile "$TLS/ca.crt" "$TLS/server.crt" >/dev/null 2>&1; then
        return 0
    fi
    log "generating throw-away CA and server certificate in $TLS"
    local san="DNS:localhost,IP:127.0.0.1,IP:::1"
    cat >"$TLS/ca.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
CN = mailstack throw-away test CA
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
EOF
    cat >"$TLS/server.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = localhost
[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
    (
        cd "$TLS"
        umask 077
        openssl req -x509 -config ca.cnf -newkey rsa:2048 -nodes -sha256 -days 3650 \
            -keyout ca.key -out ca.crt
        openssl req -new -config server.cnf -newkey rsa:2048 -nodes -sha256 \
            -keyout server.key -out server.csr
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key \
            -set_serial "0x$(openssl rand -hex 16)" -days 825 -sha256 \
            -extfile server.cnf -extensions v3_server -out server.crt
        cat server.crt ca.crt >server-chain.crt
        rm -f server.csr
        chmod 644 ca.crt server.crt server-chain.crt
        chmod 600 ca.key server.key
    ) >/dev/null 2>&1 || die "openssl certificate generation failed"
}

# ----------------------------------------------------------------- config
# replace FILE by FILE.new only when the content differs: keeps mtimes stable
# (a freshly modified main.cf/master.cf makes 'postfix start' ~2 s slower)
update_file() {
    if [ -f "$1" ] && cmp -s "$1.new" "$1"; then rm -f "$1.new"; else mv -f "$1.new" "$1"; fi
}

# settings shared by both dovecot instances:
#   dovecot_common NAME BASE_DIR STATE_DIR LOG UID GID LISTEN
dovecot_common() {
    cat <<EOF
# generated by mailstack.sh - private dovecot instance, rewritten by every 'up'
instance_name = $1
base_dir = $2
state_dir = $3
log_path = $4
listen = $7
shutdown_clients = yes
# throw-away mailboxes: no fsync
mail_fsync = never
auth_mechanisms = plain login
auth_username_format = %Lu
auth_failure_delay = 0

# virtual users owned by the system 'mail' user (dovecot refuses uid 0)
first_valid_uid = $5
first_valid_gid = $6
mail_location = maildir:~/Maildir
recipient_delimiter = +
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu $DC/users
}
userdb {
  driver = passwd-file
  args = username_format=%Lu $DC/users
}
namespace inbox {
  inbox = yes
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
}
protocol imap {
  mail_max_userip_connections = 100
}
protocol pop3 {
  mail_max_userip_connections = 100
}
# No per-IP auth penalty: after a failed login dovecot would otherwise delay
# every later login from 127.0.0.1 (correct ones too) by 2..15 s.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
EOF
}

write_config() {
    local mail_uid mail_gid listen_dc v6=0
    mail_uid=$(id -u mail) || die "system user 'mail' missing"
    mail_gid=$(getent group mail | cut -d: -f3)
    id -u postfix >/dev/null 2>&1 || die "user 'postfix' missing"
    id -u dovecot >/dev/null 2>&1 || die "user 'dovecot' missing"
    have_ipv6_lo && v6=1

    mkdir -p "$DC" "$DCRUN" "$DC/state" "$DCP" "$DCPRUN" "$DCP/state" "$PFCONF" "$PFSPOOL" "$PF/data" "$LOGD" "$PIDD" \
        "$MAILROOT/$DOMAIN/alice" "$MAILROOT/$DOMAIN/bob" "$MAILROOT/$DOMAIN/carol"
    chmod 755 "$DC" "$DCP" "$PF" "$PFCONF" "$LOGD" "$PIDD"
    chown root:root "$PFSPOOL"
    chmod 755 "$PFSPOOL"
    chown postfix:postfix "$PF/data"
    chown "$mail_uid:$mail_gid" "$MAILROOT" "$MAILROOT/$DOMAIN" "$MAILROOT/$DOMAIN/alice" "$MAILROOT/$DOMAIN/bob" "$MAILROOT/$DOMAIN/carol"
    chmod 750 "$MAILROOT"

    # ---- dovecot ---------------------------------------------------------
    umask 027
    cat >"$DC/users.new" <<EOF
$ALICE:{PLAIN}$ALICE_PASS:$mail_uid:$mail_gid::$MAILROOT/$DOMAIN/alice::
$BOB:{PLAIN}$BOB_PASS:$mail_uid:$mail_gid::$MAILROOT/$DOMAIN/bob::
$CAROL:{PLAIN}$CAROL_PASS:$mail_uid:$mail_gid::$MAILROOT/$DOMAIN/carol::
EOF
    umask 022
    update_file "$DC/users"
    chown root:dovecot "$DC/users"
    chmod 640 "$DC/users"

    listen_dc="127.0.0.1"
    [ $v6 = 1 ] && listen_dc="127.0.0.1, ::1"
    local dh=""
    [ -r /usr/share/dovecot/dh.pem ] && dh="ssl_dh = </usr/share/dovecot/dh.pem"

    # main instance: TLS everywhere, LMTP + SASL sockets for postfix
    {
        dovecot_common mailstack "$DCRUN" "$DC/state" "$LOGD/dovecot.log" "$mail_uid" "$mail_gid" "$listen_dc"
        cat <<EOF
protocols = imap pop3 lmtp
ssl = required
ssl_cert = <$TLS/server.crt
ssl_key = <$TLS/server.key
ssl_min_protocol = TLSv1.2
$dh
disable_plaintext_auth = yes

protocol lmtp {
  postmaster_address = postmaster@$DOMAIN
}
service imap-login {
  inet_listener imap {
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = $IMAPS_PORT
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = $POP3_PORT
  }
  inet_listener pop3s {
    port = $POP3S_PORT
    ssl = yes
  }
}
# delivery from postfix (virtual_transport = lmtp:unix:...)
service lmtp {
  unix_listener postfix-lmtp {
    user = postfix
    group = postfix
    mode = 0600
  }
}
# SMTP AUTH for postfix (smtpd_sasl_type = dovecot)
service auth {
  unix_listener postfix-auth {
    user = postfix
    group = postfix
    mode = 0600
  }
}
EOF
    } >"$DC/dovecot.conf.new"
    update_file "$DC/dovecot.conf"

    # second instance for negative tests: no TLS at all, same users + Maildirs
    {
        dovecot_common mailstack-plain "$DCPRUN" "$DCP/state" "$LOGD/dovecot-plain.log" "$mail_uid" "$mail_gid" "$listen_dc"
        cat <<EOF
protocols = imap pop3
ssl = no
disable_plaintext_auth = no

service imap-login {
  inet_listener imap {
    port = $IMAP_PLAIN_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = $POP3_PLAIN_PORT
  }
  inet_listener pop3s {
    port = 0
  }
}
EOF
    } >"$DCP/dovecot.conf.new"
    update_file "$DCP/dovecot.conf"

    # ---- postfix ---------------------------------------------------------
    local inet_if="127.0.0.1" inet_proto=ipv4 mynet="127.0.0.1/32"
    if [ $v6 = 1 ]; then
        inet_if="127.0.0.1, [::1]"; inet_proto=all; mynet="127.0.0.1/32 [::1]/128"
    fi
    printf '%s OK\n%s OK\n%s OK\n' "$ALICE" "$BOB" "$CAROL" >"$PFCONF/vmailbox.new"
    printf 'postmaster@%s %s\n' "$DOMAIN" "$ALICE" >"$PFCONF/valias.new"
    update_file "$PFCONF/vmailbox"
    update_file "$PFCONF/valias"

    cat >"$PFCONF/main.cf.new" <<EOF
# generated by mailstack.sh - private postfix instance, rewritten by every 'up'
compatibility_level = 3.6
queue_directory = $PFSPOOL
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $LOGD/postfix.log
maillog_file_prefixes = $LOGD
syslog_name = mailstack-postfix

myhostname = localhost
mydomain = localdomain
myorigin = \$myhostname
mydestination =
inet_interfaces = $inet_if
inet_protocols = $inet_proto
mynetworks = $mynet
smtp_bind_address = 127.0.0.1
biff = no
append_dot_mydomain = no
alias_maps =
alias_database =
local_recipient_maps =
local_transport = error:5.1.1 local delivery disabled (mailstack)
relay_domains =
# never try to deliver anywhere else: non-example.test mail bounces at once
default_transport = error:5.7.1 outbound delivery disabled (mailstack)
relay_transport = \$default_transport
virtual_mailbox_domains = $DOMAIN
virtual_mailbox_maps = texthash:$PFCONF/vmailbox
virtual_alias_maps = texthash:$PFCONF/valias
virtual_transport = lmtp:unix:$DCRUN/postfix-lmtp
recipient_delimiter = +
delay_warning_time = 0
in_flow_delay = 0
# the client tests send a 10 MB attachment (about 14 MB once base64-encoded)
message_size_limit = 52428800

smtpd_banner = \$myhostname ESMTP mailstack
smtpd_tls_chain_files = $TLS/server.key, $TLS/server.crt
smtpd_tls_security_level = encrypt
smtpd_tls_auth_only = yes
smtpd_tls_protocols = >=TLSv1.2
smtpd_tls_mandatory_protocols = >=TLSv1.2
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $DCRUN/postfix-auth
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions =
EOF

    local addrs=("127.0.0.1") a
    [ $v6 = 1 ] && addrs+=("[::1]")
    {
        cat <<'EOF'
# generated by mailstack.sh - no chroot, no default port 25 listener
# service  type  private unpriv chroot wakeup maxproc command + args
EOF
        for a in "${addrs[@]}"; do
            cat <<EOF
$a:$SMTP_STARTTLS_PORT inet n - n - - smtpd
  -o syslog_name=mailstack-postfix/submission
$a:$SMTPS_PORT inet n - n - - smtpd
  -o syslog_name=mailstack-postfix/smtps
  -o smtpd_tls_wrappermode=yes
$a:$SMTP_PLAIN_PORT inet n - n - - smtpd
  -o syslog_name=mailstack-postfix/plain
  -o smtpd_tls_security_level=none
  -o smtpd_tls_auth_only=no
EOF
        done
        cat <<'EOF'
pickup    unix  n  -  n  60   1  pickup
cleanup   unix  n  -  n  -    0  cleanup
qmgr      unix  n  -  n  300  1  qmgr
tlsmgr    unix  -  -  n  1000? 1 tlsmgr
rewrite   unix  -  -  n  -    -  trivial-rewrite
bounce    unix  -  -  n  -    0  bounce
defer     unix  -  -  n  -    0  bounce
trace     unix  -  -  n  -    0  bounce
verify    unix  -  -  n  -    1  verify
flush     unix  n  -  n  1000? 0 flush
proxymap  unix  -  -  n  -    -  proxymap
proxywrite unix -  -  n  -    1  proxymap
smtp      unix  -  -  n  -    -  smtp
relay     unix  -  -  n  -    -  smtp
showq     unix  n  -  n  -    -  showq
error     unix  -  -  n  -    -  error
retry     unix  -  -  n  -    -  error
discard   unix  -  -  n  -    -  discard
lmtp      unix  -  -  n  -    -  lmtp
anvil     unix  -  -  n  -    1  anvil
scache    unix  -  -  n  -    1  scache
postlog   unix-dgram n - n  -    1  postlogd
EOF
    } >"$PFCONF/master.cf.new"
    update_file "$PFCONF/main.cf"
    update_file "$PFCONF/master.cf"
}

write_env() {
    local v6=0
    have_ipv6_lo && v6=1
    cat >"$ENVFILE" <<EOF
MAILSTACK_DIR=$DIR
MAILSTACK_HOST=127.0.0.1
MAILSTACK_HOST_V6=$([ $v6 = 1 ] && echo ::1)
MAILSTACK_TLS_NAME=localhost
MAILSTACK_CA_FILE=$TLS/ca.crt
MAILSTACK_SMTP_STARTTLS_PORT=$SMTP_STARTTLS_PORT
MAILSTACK_SMTPS_PORT=$SMTPS_PORT
MAILSTACK_IMAP_PORT=$IMAP_PORT
MAILSTACK_IMAPS_PORT=$IMAPS_PORT
MAILSTACK_POP3_PORT=$POP3_PORT
MAILSTACK_POP3S_PORT=$POP3S_PORT
MAILSTACK_SMTP_PLAIN_PORT=$SMTP_PLAIN_PORT
MAILSTACK_IMAP_PLAIN_PORT=$IMAP_PLAIN_PORT
MAILSTACK_POP3_PLAIN_PORT=$POP3_PLAIN_PORT
MAILSTACK_ALICE_USER=$ALICE
MAILSTACK_ALICE_PASSWORD=$ALICE_PASS
MAILSTACK_BOB_USER=$BOB
MAILSTACK_BOB_PASSWORD=$BOB_PASS
MAILSTACK_CAROL_USER=$CAROL
MAILSTACK_CAROL_PASSWORD=$CAROL_PASS
MAILSTACK_ALICE_MAILDIR=$MAILROOT/$DOMAIN/alice/Maildir
MAILSTACK_BOB_MAILDIR=$MAILROOT/$DOMAIN/bob/Maildir
MAILSTACK_POSTFIX_LOG=$LOGD/postfix.log
MAILSTACK_DOVECOT_LOG=$LOGD/dovecot.log
EOF
    chmod 644 "$ENVFILE"
}

print_info() {
    cat <<EOF
mailstack running, state in $DIR
  CA certificate    : $TLS/ca.crt  (server cert CN/SAN: localhost, 127.0.0.1, ::1)
  SMTP STARTTLS     : 127.0.0.1:$SMTP_STARTTLS_PORT  STARTTLS required before AUTH/MAIL; AUTH PLAIN LOGIN
  SMTP implicit TLS : 127.0.0.1:$SMTPS_PORT  AUTH PLAIN LOGIN
  IMAP STARTTLS     : 127.0.0.1:$IMAP_PORT  STARTTLS offered (loopback: LOGIN before it is not refused)
  IMAP implicit TLS : 127.0.0.1:$IMAPS_PORT
  POP3 STLS         : 127.0.0.1:$POP3_PORT  STLS offered (loopback: USER/PASS before it is not refused)
  POP3 implicit TLS : 127.0.0.1:$POP3S_PORT
  negative tests    : SMTP 127.0.0.1:$SMTP_PLAIN_PORT, IMAP 127.0.0.1:$IMAP_PLAIN_PORT, POP3 127.0.0.1:$POP3_PLAIN_PORT
                      (no TLS, no STARTTLS/STLS offered, cleartext login accepted)
  users             : $ALICE  password $ALICE_PASS
                      $BOB    password $BOB_PASS
                      $CAROL  password $CAROL_PASS (tests that empty a mailbox)
  logs              : $LOGD/{postfix,dovecot,dovecot-plain}.log
  settings (KEY=val): $ENVFILE
EOF
    have_ipv6_lo && echo "  every port is also bound on [::1]"
    return 0
}

# ------------------------------------------------------------ readiness
tcp_open() { # host port
    timeout 1 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# TCP connect + greeting for plain ports; full TLS handshake with certificate
# and host name verification (and STARTTLS where applicable) for the others
probe() { # host port kind
    local host=$1 port=$2 kind=$3 args=() bracket=$1 want
    case "$host" in *:*) bracket="[$host]" ;; esac
    case "$kind" in
        plain-smtp | plain-imap | plain-pop3)
            case "$kind" in plain-smtp) want='220' ;; plain-imap) want='* OK' ;; *) want='+OK' ;; esac
            timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"; read -r -t 3 l <&3; [[ $l == "$3"* ]]' \
                _ "$host" "$port" "$want" 2>/dev/null
            return ;;
        smtp | imap | pop3) args=(-starttls "$kind") ;;
        tls) args=() ;;
    esac
    timeout 5 openssl s_client -connect "$bracket:$port" "${args[@]}" -CAfile "$TLS/ca.crt" \
        -verify_return_error -verify_hostname localhost -brief </dev/null >/dev/null 2>&1
}

all_ports() {
    printf '%s\n' "$SMTP_STARTTLS_PORT smtp" "$SMTPS_PORT tls" "$IMAP_PORT imap" "$IMAPS_PORT tls" \
        "$POP3_PORT pop3" "$POP3S_PORT tls" "$SMTP_PLAIN_PORT plain-smtp" \
        "$IMAP_PLAIN_PORT plain-imap" "$POP3_PLAIN_PORT plain-pop3"
}

wait_ready() {
    local hosts=(127.0.0.1) h p k deadline c ports
    have_ipv6_lo && hosts+=(::1)
    mapfile -t ports < <(all_ports)
    deadline=$((SECONDS + WAIT_SECS))
    for h in "${hosts[@]}"; do
        for c in "${ports[@]}"; do
            read -r p k <<<"$c"
            until probe "$h" "$p" "$k"; do
                if [ $SECONDS -ge $deadline ]; then
                    log "$h:$p ($k) did not answer within ${WAIT_SECS}s; see $LOGD/"
                    return 1
                fi
                sleep 0.2
            done
        done
    done
    [ -S "$DCRUN/postfix-lmtp" ] && [ -S "$DCRUN/postfix-auth" ] || { log "dovecot sockets for postfix missing"; return 1; }
}

check_ports_free() {
    local p k h c ports
    mapfile -t ports < <(all_ports)
    for c in "${ports[@]}"; do
        read -r p k <<<"$c"
        for h in 127.0.0.1 $(have_ipv6_lo && echo ::1); do
            if tcp_open "$h" "$p"; then
                die "port $h:$p is already in use by another process (set MAILSTACK_*_PORT to move)"
            fi
        done
    done
}

check_parents() {
    local d=$DIR/x m
    while [ "$d" != / ]; do
        d=$(dirname "$d")
        [ -d "$d" ] || continue
        m=$(stat -c %A "$d" | cut -c10)
        [ "$m" = x ] || [ "$m" = t ] ||
            die "$d is not world-traversable (o+x); the postfix/dovecot/mail users need to reach $DIR"
    done
}

validate_settings() {
    local c p k seen=" " ports
    mapfile -t ports < <(all_ports)
    for c in "${ports[@]}"; do
        read -r p k <<<"$c"
        [[ $p =~ ^[0-9]{1,5}$ ]] && [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || die "invalid port '$p' ($k)"
        case "$seen" in *" $p "*) die "port $p is configured twice" ;; esac
        seen+="$p "
    done
    [[ $ALICE_PASS =~ ^[^[:space:]:]+$ && $BOB_PASS =~ ^[^[:space:]:]+$ && $CAROL_PASS =~ ^[^[:space:]:]+$ ]] ||
        die "passwords must be non-empty and contain no ':' or white space"
}

# ports/passwords of an existing stack, from DIR/mailstack.env (parsed, not sourced)
load_env() {
    local k v
    [ -s "$ENVFILE" ] || return 0
    while IFS='=' read -r k v; do
        case "$k" in
            MAILSTACK_SMTP_STARTTLS_PORT) SMTP_STARTTLS_PORT=$v ;;
            MAILSTACK_SMTPS_PORT) SMTPS_PORT=$v ;;
            MAILSTACK_SMTP_PLAIN_PORT) SMTP_PLAIN_PORT=$v ;;
            MAILSTACK_IMAP_PORT) IMAP_PORT=$v ;;
            MAILSTACK_IMAPS_PORT) IMAPS_PORT=$v ;;
            MAILSTACK_IMAP_PLAIN_PORT) IMAP_PLAIN_PORT=$v ;;
            MAILSTACK_POP3_PORT) POP3_PORT=$v ;;
            MAILSTACK_POP3S_PORT) POP3S_PORT=$v ;;
            MAILSTACK_POP3_PLAIN_PORT) POP3_PLAIN_PORT=$v ;;
            MAILSTACK_ALICE_PASSWORD) ALICE_PASS=$v ;;
            MAILSTACK_BOB_PASSWORD) BOB_PASS=$v ;;
            MAILSTACK_CAROL_PASSWORD) CAROL_PASS=$v ;;
        esac
    done <"$ENVFILE"
}

# ------------------------------------------------------------- commands
INSTANCES=(postfix dovecot-plain dovecot)

# stop all three masters in parallel (dovecot needs ~1 s to shut down)
stop_all() {
    local n pids=()
    for n in "${INSTANCES[@]}"; do
        stop_one "$n" &
        pids+=($!)
    done
    wait "${pids[@]}" || true
}

start_dovecot() { # name conf-file base-dir
    local name=$1 conf=$2 run=$3
    doveconf -c "$conf" -n >/dev/null 2>"$LOGD/$name-doveconf.err" ||
        die "$name config invalid: $(cat "$LOGD/$name-doveconf.err")"
    # stale sockets of a previous run: dovecot does not remove the disabled
    # (mode 0) anvil-auth-penalty socket, and connecting to it would fail slowly
    rm -f "$run/master.pid" "$run/anvil-auth-penalty"
    # daemons must not inherit the caller's stdout/stderr: a caller that
    # captures our output through a pipe would otherwise never see EOF
    "$DOVECOT_BIN" -c "$conf" </dev/null >>"$LOGD/$name.stdio" 2>&1 ||
        die "$name failed to start; see $LOGD/$name.log and $LOGD/$name.stdio"
    for _ in $(seq 1 100); do [ -s "$run/master.pid" ] && break; sleep 0.05; done
    [ -s "$run/master.pid" ] || die "$name wrote no pid file; see $LOGD/$name.log"
    record_pid "$name" "$(cat "$run/master.pid")"
}

cmd_up() {
    need_root
    local t0=$SECONDS n running=0
    for n in "${INSTANCES[@]}"; do live_pid "$n" >/dev/null && running=$((running + 1)); done
    if [ $running = ${#INSTANCES[@]} ]; then
        load_env # ports/passwords of the running stack win over the environment
        if WAIT_SECS=5 wait_ready; then
            log "already running (all ports answer)"
            write_env
            print_info
            return 0
        fi
        log "running but not healthy; restarting"
    fi
    # half-up or stale: stop whatever of ours is still alive, then start fresh
    stop_all

    validate_settings
    check_ports_free
    apt_install "${SERVER_PKGS[@]}"
    # shellcheck disable=SC2174 # parents get 755 from umask 022 anyway
    [ -d "$DIR" ] || mkdir -p -m 755 "$DIR"
    check_parents
    gen_tls
    write_config
    write_env

    # dovecot first: postfix needs its auth + lmtp sockets
    # if anything below fails, stop what was started so far
    trap 'if [ "$UP_OK" != 1 ]; then log "startup failed, stopping"; stop_all; fi' EXIT
    start_dovecot dovecot "$DC/dovecot.conf" "$DCRUN"
    start_dovecot dovecot-plain "$DCP/dovecot.conf" "$DCPRUN"

    # postfix: 'postfix -c DIR' checks/creates the private queue, starts master -w
    if ! postfix -c "$PFCONF" start </dev/null >"$LOGD/postfix-start.out" 2>&1; then
        cat "$LOGD/postfix-start.out" >&2
        tail -n 3 "$LOGD/postfix.log" >&2 2>/dev/null || true
        die "postfix failed to start; see $LOGD/postfix.log"
    fi
    for _ in $(seq 1 100); do [ -s "$PFSPOOL/pid/master.pid" ] && break; sleep 0.05; done
    record_pid postfix "$(tr -d ' ' <"$PFSPOOL/pid/master.pid")"

    wait_ready || die "not every port came up"
    UP_OK=1
    log "up in $((SECONDS - t0))s"
    print_info
}

cmd_down() {
    need_root
    stop_all
    log "stopped (nothing deleted; state remains in $DIR)"
}

cmd_status() {
    local rc=0 n pid
    for n in "${INSTANCES[@]}"; do
        if pid=$(live_pid "$n"); then echo "$n: running (pid $pid)"; else echo "$n: not running"; rc=1; fi
    done
    return $rc
}

cmd_env() {
    [ -s "$ENVFILE" ] || die "no $ENVFILE; run 'up' first"
    cat "$ENVFILE"
}

# ------------------------------------------------------- self test
PASS=0 FAIL=0
ok() { PASS=$((PASS + 1)); printf '  PASS  %s\n' "$*"; }
bad() { FAIL=$((FAIL + 1)); printf '  FAIL  %s\n' "$*"; }
expect_fail() { # description, command...  (passes when the command fails)
    local d=$1; shift
    local out rc=0
    out=$("$@" 2>&1) || rc=$?
    if [ $rc -ne 0 ]; then ok "$d (rc=$rc: $(printf '%s' "$out" | grep -E '^(<\*\*|<~\*|\*\*\*)|^curl:' | head -1 | cut -c1-100))"
    else bad "$d (unexpectedly succeeded)"; fi
}

imap_find_uid() { # subject-token -> uid (polls up to 15 s)
    local tok=$1 out uid
    for _ in $(seq 1 75); do
        out=$(curl -sS --cacert "$TLS/ca.crt" --user "$BOB:$BOB_PASS" \
            "imaps://127.0.0.1:$IMAPS_PORT/INBOX" -X "UID SEARCH SUBJECT \"$tok\"" 2>/dev/null || true)
        uid=$(printf '%s' "$out" | tr -d '\r' | awk '/^\* SEARCH/ {print $3}')
        [ -n "$uid" ] && { echo "$uid"; return 0; }
        sleep 0.2
    done
    return 1
}

cmd_selftest() {
    need_root
    cmd_status >/dev/null || die "stack in $DIR is not (fully) running; run 'up' first"
    load_env
    apt_install "${CLIENT_PKGS[@]}"
    local ca=$TLS/ca.crt tmp tok1 tok2 uid1 uid2 n i got out
    tmp=$(mktemp -d "$DIR/selftest.XXXXXX")
    tok1="swaks-$(date +%s%N)"
    tok2="curl-$(date +%s%N)"
    echo "selftest against $DIR"

    # 1. swaks, STARTTLS + AUTH PLAIN on the submission port
    if swaks --server 127.0.0.1 --port "$SMTP_STARTTLS_PORT" --tls --tls-verify --tls-ca-path "$ca" \
        --auth PLAIN --auth-user "$ALICE" --auth-password "$ALICE_PASS" \
        --from "$ALICE" --to "$BOB" --header "Subject: $tok1" \
        --body "hello bob, via swaks STARTTLS ($tok1)" >"$tmp/swaks.log" 2>&1; then
        ok "swaks alice->bob STARTTLS:$SMTP_STARTTLS_PORT AUTH PLAIN ($(grep -c '^ *<~ *250' "$tmp/swaks.log") x 250 over TLS)"
    else bad "swaks STARTTLS submission (see $tmp/swaks.log)"; fi

    # 2. curl, implicit TLS + AUTH, a message with dot-stuffing and 8-bit UTF-8
    printf '%s\r\n' "From: Alice <$ALICE>" "To: Bob <$BOB>" "Subject: $tok2" \
        "Date: $(date -R)" "Message-ID: <$tok2@example.test>" "MIME-Version: 1.0" \
        "Content-Type: text/plain; charset=utf-8" "Content-Transfer-Encoding: 8bit" "" \
        "Hi Bob," ".a line starting with a dot" "." "..two dots" "Grüße, naïve café – ✓" \
        "From the end" "$(head -c 900 /dev/zero | tr '\0' x)" >"$tmp/msg.eml"
    if curl -sS --cacert "$ca" --ssl-reqd "smtps://127.0.0.1:$SMTPS_PORT" --user "$ALICE:$ALICE_PASS" \
        --mail-from "$ALICE" --mail-rcpt "$BOB" --upload-file "$tmp/msg.eml" >"$tmp/curl-smtp.log" 2>&1; then
        ok "curl alice->bob smtps://127.0.0.1:$SMTPS_PORT AUTH"
    else bad "curl smtps submission: $(cat "$tmp/curl-smtp.log")"; fi

    # 3. fetch over IMAPS and compare
    if uid1=$(imap_find_uid "$tok1"); then
        curl -sS --cacert "$ca" --user "$BOB:$BOB_PASS" "imaps://127.0.0.1:$IMAPS_PORT/INBOX;UID=$uid1" >"$tmp/imap1.eml"
        grep -q "hello bob, via swaks STARTTLS ($tok1)" "$tmp/imap1.eml" &&
            ok "imaps: bob sees swaks message (UID $uid1), body intact" || bad "imaps: swaks body mismatch"
    else bad "imaps: swaks message not delivered within 15 s"; fi
    if uid2=$(imap_find_uid "$tok2"); then
        curl -sS --cacert "$ca" --user "$BOB:$BOB_PASS" "imaps://127.0.0.1:$IMAPS_PORT/INBOX;UID=$uid2" >"$tmp/imap2.eml"
        n=$(stat -c %s "$tmp/msg.eml")
        if [ "$(tail -c "$n" "$tmp/imap2.eml" | sha256sum)" = "$(sha256sum <"$tmp/msg.eml")" ]; then
            ok "imaps: curl message (UID $uid2) byte-identical after the added trace headers ($n bytes, sha256)"
        else bad "imaps: curl message differs (compare $tmp/msg.eml $tmp/imap2.eml)"; fi
    else bad "imaps: curl message not delivered within 15 s"; fi

    # 4. IMAP STARTTLS port with --ssl-reqd works
    if curl -sS --cacert "$ca" --ssl-reqd --user "$BOB:$BOB_PASS" "imap://127.0.0.1:$IMAP_PORT/INBOX" -X "STATUS INBOX (MESSAGES)" >"$tmp/imap-stls.log" 2>&1; then
        ok "imap STARTTLS:$IMAP_PORT login ($(tr -d '\r' <"$tmp/imap-stls.log" | grep -o 'MESSAGES [0-9]*'))"
    else bad "imap STARTTLS: $(cat "$tmp/imap-stls.log")"; fi

    # 5. POP3S: find the curl message among bob's messages, compare bytes
    got=""
    out=$(curl -sS --cacert "$ca" --user "$BOB:$BOB_PASS" "pop3s://127.0.0.1:$POP3S_PORT/" 2>&1 | tr -d '\r') || true
    for i in $(printf '%s\n' "$out" | awk '{print $1}' | sort -rn); do
        curl -sS --cacert "$ca" --user "$BOB:$BOB_PASS" "pop3s://127.0.0.1:$POP3S_PORT/$i" >"$tmp/pop.eml" 2>/dev/null || continue
        if grep -q "Subject: $tok2" "$tmp/pop.eml"; then got=$i; break; fi
    done
    if [ -n "$got" ]; then
        n=$(stat -c %s "$tmp/msg.eml")
        [ "$(tail -c "$n" "$tmp/pop.eml" | sha256sum)" = "$(sha256sum <"$tmp/msg.eml")" ] &&
            ok "pop3s: RETR $got byte-identical to what was sent (dot-unstuffed correctly)" ||
            bad "pop3s: message $got differs"
    else bad "pop3s: curl message not found in LIST ($out)"; fi
    if curl -sS --cacert "$ca" --ssl-reqd --user "$BOB:$BOB_PASS" "pop3://127.0.0.1:$POP3_PORT/" >"$tmp/pop-stls.log" 2>&1; then
        ok "pop3 STLS:$POP3_PORT login ($(wc -l <"$tmp/pop-stls.log") messages listed)"
    else bad "pop3 STLS: $(cat "$tmp/pop-stls.log")"; fi

    # 6. AUTH LOGIN over implicit TLS
    if swaks --server 127.0.0.1 --port "$SMTPS_PORT" --tls-on-connect --tls-verify --tls-ca-path "$ca" \
        --auth LOGIN --auth-user "$BOB" --auth-password "$BOB_PASS" --quit-after AUTH >"$tmp/swaks-login.log" 2>&1; then
        ok "swaks AUTH LOGIN over implicit TLS :$SMTPS_PORT ($(grep -o '235 .*' "$tmp/swaks-login.log" | head -1))"
    else bad "swaks AUTH LOGIN on :$SMTPS_PORT (see $tmp/swaks-login.log)"; fi

    # 7. the no-TLS ports really accept a careless client (that is their purpose)
    if curl -sS --user "$BOB:$BOB_PASS" "imap://127.0.0.1:$IMAP_PLAIN_PORT/INBOX" -X NOOP >/dev/null 2>&1 &&
        curl -sS --user "$BOB:$BOB_PASS" "pop3://127.0.0.1:$POP3_PLAIN_PORT/" >/dev/null 2>&1 &&
        swaks --server 127.0.0.1 --port "$SMTP_PLAIN_PORT" --auth PLAIN --auth-user "$ALICE" \
            --auth-password "$ALICE_PASS" --quit-after AUTH >/dev/null 2>&1; then
        ok "plain ports :$SMTP_PLAIN_PORT/:$IMAP_PLAIN_PORT/:$POP3_PLAIN_PORT accept cleartext login (trap for clients that skip TLS)"
    else bad "plain negative-test ports do not accept cleartext login"; fi

    echo "negative checks (each must fail):"
    expect_fail "swaks wrong password, STARTTLS :$SMTP_STARTTLS_PORT" \
        swaks --server 127.0.0.1 --port "$SMTP_STARTTLS_PORT" --tls --tls-verify --tls-ca-path "$ca" \
        --auth PLAIN --auth-user "$ALICE" --auth-password wrong --from "$ALICE" --to "$BOB" --quit-after AUTH
    expect_fail "curl wrong password, smtps :$SMTPS_PORT" curl -sS --cacert "$ca" "smtps://127.0.0.1:$SMTPS_PORT" \
        --user "$ALICE:wrong" --mail-from "$ALICE" --mail-rcpt "$BOB" --upload-file "$tmp/msg.eml"
    expect_fail "curl wrong password, imaps :$IMAPS_PORT" curl -sS --cacert "$ca" --user "$BOB:wrong" "imaps://127.0.0.1:$IMAPS_PORT/INBOX"
    expect_fail "curl wrong password, pop3s :$POP3S_PORT" curl -sS --cacert "$ca" --user "$BOB:wrong" "pop3s://127.0.0.1:$POP3S_PORT/"
    expect_fail "curl unknown recipient nobody@$DOMAIN" curl -sS --cacert "$ca" "smtps://127.0.0.1:$SMTPS_PORT" \
        --user "$ALICE:$ALICE_PASS" --mail-from "$ALICE" --mail-rcpt "nobody@$DOMAIN" --upload-file "$tmp/msg.eml"
    expect_fail "unauthenticated submission over TLS :$SMTPS_PORT (relay denied)" curl -sS --cacert "$ca" \
        "smtps://127.0.0.1:$SMTPS_PORT" --mail-from "$ALICE" --mail-rcpt "$BOB" --upload-file "$tmp/msg.eml"
    expect_fail "plaintext MAIL FROM on :$SMTP_STARTTLS_PORT without STARTTLS" \
        swaks --server 127.0.0.1 --port "$SMTP_STARTTLS_PORT" --from "$ALICE" --to "$BOB" --quit-after RCPT
    expect_fail "plaintext AUTH on :$SMTP_STARTTLS_PORT (AUTH not advertised before STARTTLS)" \
        swaks --server 127.0.0.1 --port "$SMTP_STARTTLS_PORT" --auth PLAIN --auth-user "$ALICE" \
        --auth-password "$ALICE_PASS" --from "$ALICE" --to "$BOB" --quit-after AUTH
    expect_fail "plaintext SMTP on implicit-TLS :$SMTPS_PORT" \
        swaks --server 127.0.0.1 --port "$SMTPS_PORT" --timeout 2 --from "$ALICE" --to "$BOB" --quit-after EHLO
    expect_fail "plaintext IMAP on implicit-TLS :$IMAPS_PORT" \
        curl -sS -m 2 --user "$BOB:$BOB_PASS" "imap://127.0.0.1:$IMAPS_PORT/INBOX"
    expect_fail "plaintext POP3 on implicit-TLS :$POP3S_PORT" \
        curl -sS -m 2 --user "$BOB:$BOB_PASS" "pop3://127.0.0.1:$POP3S_PORT/"
    expect_fail "TLS verify without the test CA (system trust store)" \
        curl -sS --user "$BOB:$BOB_PASS" "imaps://127.0.0.1:$IMAPS_PORT/INBOX"
    expect_fail "TLS verify with a wrong host name (wrong.example)" \
        curl -sS --cacert "$ca" --connect-to "wrong.example:$IMAPS_PORT:127.0.0.1:$IMAPS_PORT" \
        --user "$BOB:$BOB_PASS" "imaps://wrong.example:$IMAPS_PORT/INBOX"
    expect_fail "client refuses :$SMTP_PLAIN_PORT, no STARTTLS (swaks --tls)" \
        swaks --server 127.0.0.1 --port "$SMTP_PLAIN_PORT" --tls --auth PLAIN --auth-user "$ALICE" \
        --auth-password "$ALICE_PASS" --from "$ALICE" --to "$BOB"
    expect_fail "client refuses :$SMTP_PLAIN_PORT, no STARTTLS (curl --ssl-reqd)" \
        curl -sS --ssl-reqd "smtp://127.0.0.1:$SMTP_PLAIN_PORT" --user "$ALICE:$ALICE_PASS" \
        --mail-from "$ALICE" --mail-rcpt "$BOB" --upload-file "$tmp/msg.eml"
    expect_fail "client refuses :$IMAP_PLAIN_PORT, no STARTTLS (curl --ssl-reqd)" \
        curl -sS --ssl-reqd --user "$BOB:$BOB_PASS" "imap://127.0.0.1:$IMAP_PLAIN_PORT/INBOX"
    expect_fail "client refuses :$POP3_PLAIN_PORT, no STLS (curl --ssl-reqd)" \
        curl -sS --ssl-reqd --user "$BOB:$BOB_PASS" "pop3://127.0.0.1:$POP3_PLAIN_PORT/"
    echo "summary: $PASS passed, $FAIL failed (work files in $tmp)"
    [ "$FAIL" = 0 ]
}

cmd_bench() {
    need_root
    local n=${1:-100} before after t0 t1 i ms
    [ "$n" -ge 1 ] && [ "$n" -le 200 ] || die "N must be 1..200"
    cmd_status >/dev/null || die "stack in $DIR is not (fully) running; run 'up' first"
    load_env
    apt_install "${CLIENT_PKGS[@]}"
    local md=$MAILROOT/$DOMAIN/bob/Maildir
    count() { find "$md/new" "$md/cur" -type f 2>/dev/null | wc -l; }
    before=$(count)
    t0=$(date +%s%N)
    for i in $(seq 1 "$n"); do
        swaks --server 127.0.0.1 --port "$SMTP_STARTTLS_PORT" --tls --tls-ca-path "$TLS/ca.crt" --tls-verify \
            --auth PLAIN --auth-user "$ALICE" --auth-password "$ALICE_PASS" \
            --from "$ALICE" --to "$BOB" --header "Subject: bench $i" -S 2 >/dev/null ||
            die "swaks failed at message $i"
    done
    t1=$(date +%s%N)
    ms=$(((t1 - t0) / 1000000))
    echo "submitted $n messages (one swaks process + TLS + AUTH each) in ${ms} ms: $(awk -v n="$n" -v ms="$ms" 'BEGIN{printf "%.1f", n*1000/ms}') msg/s"
    for _ in $(seq 1 300); do
        after=$(count)
        [ $((after - before)) -ge "$n" ] && break
        sleep 0.1
    done
    ms=$((($(date +%s%N) - t0) / 1000000))
    echo "delivered $((after - before))/$n into bob's Maildir after ${ms} ms"
}

# ----------------------------------------------------------------- main
[ $# -ge 2 ] || usage
cmd=$1
set_dir "$2"
shift 2
case "$cmd" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    selftest) cmd_selftest ;;
    bench) cmd_bench "$@" ;;
    *) usage ;;
esac
