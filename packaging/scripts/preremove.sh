#!/bin/sh
# spanshipper pre-remove (.deb: remove or upgrade; .rpm: $1 = 0 erase, 1 upgrade).
# On removal, stop the service: SIGTERM ships what was read and checkpoints.
set -e
case "$1" in
    remove|0)
        if [ -d /run/systemd/system ]; then
            systemctl disable --now spanshipper.service >/dev/null 2>&1 || true
        fi
        ;;
esac
exit 0
