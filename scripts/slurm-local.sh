#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the Slurm executor's tests and for trying
# `autoresearch run --executor slurm` without a cluster.
#
#   scripts/slurm-local.sh start   # install slurm-wlm and munge when missing, configure, start
#   scripts/slurm-local.sh stop    # stop exactly the daemons that start started
#   scripts/slurm-local.sh env     # print the line that points Slurm's commands at the cluster
#
# Runs as root. The configuration, state, logs and pid files live in one folder,
# $SLURM_LOCAL_DIR (default /var/tmp/autoresearch-slurm; munged writes its pid file there, so
# the munge user must be able to enter it). Slurm's commands find the configuration through
# SLURM_CONF, which `env` prints:  eval "$(scripts/slurm-local.sh env)".
# munged runs as the munge user with the system's key (/etc/munge/munge.key, made when
# missing); a munged already running is used and left alone. Accounting is off (no sacct).
set -euo pipefail

DIR=${SLURM_LOCAL_DIR:-/var/tmp/autoresearch-slurm}
CONF=$DIR/slurm.conf
NODE=$(hostname -s)

say() { echo "slurm-local: $*" >&2; }

install_packages() {
	if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null &&
		command -v munged >/dev/null; then
		return
	fi
	say "installing slurm-wlm and munge from Debian's packages"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
}

# alive PIDFILE: the pid in the file names a running process.
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
	if munge_ok; then
		return
	fi
	if [ ! -s /etc/munge/munge.key ]; then
		mkdir -p /etc/munge
		dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
	fi
	chown munge:munge /etc/munge/munge.key
	chmod 400 /etc/munge/munge.key
	install -d -o munge -g munge -m 0755 /run/munge
	install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
	mkdir -p "$DIR"
	chmod 755 "$DIR"
	install -d -o munge -g munge -m 0755 "$DIR/munge"
	# runuser rather than su: no login shell, no PAM session prompts.
	runuser -u munge -- munged --pid-file="$DIR/munge/munged.pid"
	for _ in $(seq 50); do
		munge_ok && return
		sleep 0.1
	done
	say "munged did not start: see /var/log/munge/munged.log"
	exit 1
}

configure() {
	mkdir -p "$DIR"/{state,spool,log,run}
	local cpus mem
	cpus=$(nproc)
	mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
	cat >"$CONF.tmp" <<EOF
# Written by scripts/slurm-local.sh: a one-node cluster on $NODE.
ClusterName=autoresearch
SlurmctldHost=$NODE
AuthType=auth/munge
CryptoType=crypto/munge
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SchedulerType=sched/backfill
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
MinJobAge=300
NodeName=$NODE CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
	mv "$CONF.tmp" "$CONF"
}

start() {
	install_packages
	start_munge
	configure
	export SLURM_CONF=$CONF
	if ! alive "$DIR/run/slurmctld.pid"; then
		slurmctld -f "$CONF"
	fi
	if ! alive "$DIR/run/slurmd.pid"; then
		slurmd -f "$CONF"
	fi
	for _ in $(seq 100); do
		if sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
			say "node $NODE is up (SLURM_CONF=$CONF)"
			return
		fi
		sleep 0.2
	done
	say "the node did not come up: see $DIR/log/"
	sinfo >&2 || true
	exit 1
}

# stop_pid NAME PIDFILE: end the process the pid file names, and only that one.
stop_pid() {
	local f=$2 pid
	alive "$f" || { rm -f "$f"; return; }
	pid=$(cat "$f")
	kill "$pid"
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || { rm -f "$f"; return; }
		sleep 0.1
	done
	say "$1 ($pid) did not stop on SIGTERM: killing it"
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$f"
}

stop() {
	stop_pid slurmd "$DIR/run/slurmd.pid"
	stop_pid slurmctld "$DIR/run/slurmctld.pid"
	stop_pid munged "$DIR/munge/munged.pid"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
env) echo "export SLURM_CONF=$CONF" ;;
*)
	echo "usage: $0 start|stop|env" >&2
	exit 2
	;;
esac
