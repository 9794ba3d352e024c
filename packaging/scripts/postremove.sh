#!/bin/sh
# spanshipper post-remove. Checkpoints in /var/lib/spanshipper and the user
# are kept, so a reinstall resumes where it stopped; `apt purge` removes the
# checkpoints too.
set -e
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
fi
if [ "$1" = "purge" ]; then
    rm -rf /var/lib/spanshipper /etc/spanshipper
fi
exit 0
