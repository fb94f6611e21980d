/**
 * The systemd unit `bbblb install` writes: `deploy/bbblb.service`, kept here as text so the single binary
 * carries it (`install_test.ts` checks that the two are the same, byte for byte).
 *
 * @module
 */

/** Where the unit runs bbblb from; `bbblb install` puts the path of the running binary there. */
export const UNIT_EXEC_PATH = "/usr/local/bin/bbblb";

/** The text of `deploy/bbblb.service`. */
export const SERVICE_UNIT = `# systemd unit for bbblb, a load balancer for BigBlueButton.
#
# Install:  install -m 0755 bbblb /usr/local/bin/bbblb && bbblb install --url https://lb.example.org
#           (writes this unit, /etc/bbblb/bbblb.env with a generated secret, and the store), then
#           systemctl daemon-reload && systemctl enable --now bbblb
#
# The store lives in /var/lib/bbblb (StateDirectory; with DynamicUser the real directory is
# /var/lib/private/bbblb and /var/lib/bbblb links to it). UMask=0077 keeps the KV file and its SQLite
# journal files at mode 0600: they hold the BBB servers' secrets.
# systemd reads EnvironmentFile as root, so /etc/bbblb/bbblb.env can stay root-owned with mode 0600.

[Unit]
Description=bbblb, a load balancer for BigBlueButton
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=/usr/local/bin/bbblb serve
# The settings come from the environment file (which wins over Environment=); systemd reads it as root, so the
# service's own user does not read it again (BBBLB_CONFIG empty: no config file). The admin commands, run as
# root, read the same file by default and so find the same store.
Environment=BBBLB_KV=/var/lib/bbblb/bbblb.kv
Environment=BBBLB_CONFIG=
EnvironmentFile=-/etc/bbblb/bbblb.env
Environment=DENO_NO_UPDATE_CHECK=1
# SIGTERM: bbblb finishes the requests in flight, closes the store and exits 0.
KillSignal=SIGTERM
TimeoutStopSec=30
Restart=on-failure
RestartSec=2

# Its own unprivileged user, created while the service runs; state only under /var/lib/bbblb.
DynamicUser=yes
StateDirectory=bbblb
StateDirectoryMode=0700
WorkingDirectory=/var/lib/bbblb
UMask=0077

# Hardening. MemoryDenyWriteExecute stays off: V8's JIT needs writable executable memory.
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
PrivateUsers=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
ProcSubset=pid
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
RemoveIPC=yes
LockPersonality=yes
CapabilityBoundingSet=
AmbientCapabilities=
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @mount @swap @reboot @module @raw-io @debug @cpu-emulation @obsolete @clock
SystemCallErrorNumber=EPERM
DevicePolicy=closed
KeyringMode=private
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`;
