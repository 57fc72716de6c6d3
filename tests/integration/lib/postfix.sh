# Sourced by the suites that run a private Postfix instance (postfix, policy, sender): installing
# what is missing, the instance's directories under $work, the main.cf lines and master.cf
# services every instance shares, and starting and stopping it. Each suite adds its own settings
# (names, TLS, smtpd or smtp services) after the shared ones.

# install_packages PACKAGE...: apt-get install, with Postfix preseeded to "No configuration" so
# the host's own mail setup is never touched; `apt-get update` only when the package lists
# cannot satisfy the install (a fresh machine has none).
install_packages() {
    [ $# -eq 0 ] && return 0
    echo "installing: $*"
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends "$@"; then
        apt-get update
        apt-get install -y --no-install-recommends "$@"
    fi
}

# postfix_dirs: $pfconf (configuration) and $queue under $work, and the data directory, which
# `postfix check` insists the postfix user owns. $work must be world-readable: the daemons drop
# to the postfix user and must reach their files.
postfix_dirs() {
    pfconf=$work/postfix
    queue=$work/queue
    postfix_started=
    mkdir -p "$pfconf" "$queue" "$work/data"
    chmod 755 "$work"
    chown postfix: "$work/data"
}

# postfix_main_cf: the main.cf lines of an instance that lives in $work, logs to
# $work/postfix.log, listens on loopback only, and delivers nothing anywhere (the scanner never
# sends mail; the sender suite routes its test mail with transport_maps).
postfix_main_cf() {
    cat <<EOF
compatibility_level = 3.6
queue_directory = $queue
data_directory = $work/data
mail_owner = postfix
setgid_group = postdrop
myorigin = \$mydomain
mydestination =
relay_domains =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
default_transport = discard:nowhere
local_transport = discard:nowhere
relay_transport = discard:nowhere
maillog_file = $work/postfix.log
maillog_file_prefixes = $work
EOF
}

# postfix_master_services: the master.cf services every instance needs besides its own smtpd or
# smtp lines (logging to a file, the queue, TLS session cache, the discard transport).
postfix_master_services() {
    cat <<'EOF'
postlog   unix-dgram n - n - 1 postlogd
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
tlsmgr    unix - - n 1000? 1 tlsmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
showq     unix n - n - - showq
smtp      unix - - n - - smtp
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
discard   unix - - n - - discard
error     unix - - n - - error
retry     unix - - n - - error
EOF
}

# postfix_start: starts the instance in $pfconf, or dies with the last lines Postfix printed.
postfix_start() {
    log "starting Postfix ($pfconf)"
    postfix_started=yes
    postfix -c "$pfconf" start > "$work/postfix-start.err" 2>&1 ||
        die "postfix start failed: $(tail -n 5 "$work/postfix-start.err")"
}

# postfix_stop: stops the instance if it was started and waits (10 s at most) for its master
# process to go, then kills it: nothing may outlive the suite.
postfix_stop() {
    [ -n "${postfix_started:-}" ] || return 0
    postfix -c "$pfconf" stop >/dev/null 2>&1
    local master_pid="" i
    [ -r "$queue/pid/master.pid" ] && read -r master_pid < "$queue/pid/master.pid"
    if [ -n "$master_pid" ]; then
        for i in $(seq 50); do kill -0 "$master_pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$master_pid" 2>/dev/null
    fi
    postfix_started=
    return 0
}
