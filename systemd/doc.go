// Package systemd holds bouncewatch's hardened unit files and their checks.
//
// bouncewatch.service runs the daemon under a transient user with the groups
// that read the mail logs, bouncewatch.socket is the optional socket
// activation on :9467, and bouncewatch.default is the environment file
// (/etc/default/bouncewatch). The tests run systemd-analyze verify and
// systemd-analyze security --offline=true on them; neither needs systemd as
// PID 1.
package systemd
