#!/bin/sh
# spanshipper post-install (.deb: configure; .rpm: $1 = 1 install, 2 upgrade).
set -e

# The service's own user, without a login or a home of its own; its state
# directory is made by systemd (StateDirectory=spanshipper).
if ! getent group spanshipper >/dev/null 2>&1; then
    groupadd --system spanshipper
fi
if ! getent passwd spanshipper >/dev/null 2>&1; then
    nologin=/usr/sbin/nologin
    [ -x "$nologin" ] || nologin=/sbin/nologin
    useradd --system --gid spanshipper --no-create-home \
        --home-dir /var/lib/spanshipper --shell "$nologin" \
        --comment "spanshipper span shipper" spanshipper
fi
# The environment file holds the API key: readable by root and the service.
chgrp spanshipper /etc/spanshipper/spanshipper.env
chmod 0640 /etc/spanshipper/spanshipper.env

if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
    if systemctl is-active --quiet spanshipper.service; then
        systemctl try-restart spanshipper.service || true
    else
        echo "spanshipper: set the span paths, endpoint and API key in /etc/spanshipper/spanshipper.env,"
        echo "             then: systemctl enable --now spanshipper"
    fi
fi
exit 0
