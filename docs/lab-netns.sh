#!/usr/bin/env bash
# lab-netns.sh: an exlab organization of separate machines on one Linux host. Each server runs
# in a network namespace of its own with one address on a private bridge, so its connectors'
# wildcard bindings, the RemoteIPRanges its peers are matched against and the addresses in
# its logs are those of a machine of its own. Nothing leaves the host: the addresses are in
# TEST-NET-1 (192.0.2.0/24, RFC 5737, documentation only, never routed), the namespaces have
# no default route, and the script sets up no NAT and no forwarding. (When the host uses
# TEST-NET-1 itself, as some sandboxes do, the lab takes TEST-NET-2 or -3: see --net.)
#
# Needs root, iproute2 (ip netns, veth, bridge) and bash. See usage below.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: lab-netns.sh up N M [--exlab BIN] [--dir DIR] [--prefix P] [--net A.B.C]
       lab-netns.sh up --config FILE [--exlab BIN] [--dir DIR] [--prefix P] [--net A.B.C]
       lab-netns.sh status [--dir DIR] [--prefix P]
       lab-netns.sh down [--dir DIR] [--prefix P]

up N M   starts an organization of N frontends x M hubs, each server in a namespace of its
         own: it writes DIR/organization.yaml with M servers EX01..EXmm of
         Roles [HubTransport] (exlab hub: connectors Default EXnn on 2525 and Client Proxy
         EXnn on 465, mailbox database DBnn, mailbox usernn@contoso.test homed there, and
         administrator@contoso.test on DB01) and N servers FE01..FEnn of Roles
         [FrontendTransport] (exlab frontend: Default Frontend FEnn on 25, Client Frontend on
         587, Outbound Proxy Frontend on 717), all in one site: each frontend proxies to the hub
         where most recipients are homed and fails over to the others. N may be 0 (hubs
         alone: nothing listens on 25).
up --config FILE  runs every server of the organization file FILE instead, with exlab
         serve, frontend or hub as its Roles say (both, FrontendTransport alone,
         HubTransport alone); e.g. docs/examples/two-servers.yaml, two servers with both
         roles whose connectors bind wildcards.
         Either way the servers get A.B.C.11, .12, ... in the file's order (hubs first in a
         generated file) on a veth into the bridge P-br0, where the host is A.B.C.1, and
         /etc/netns/P-<server>/hosts maps every server's Fqdn to its address (ip netns exec
         mounts it over /etc/hosts): that is where a server dials a peer whose connectors
         bind wildcards. Servers with a hub get an admin listener on <address>:8470 (token
         in DIR/admin.token); up waits for each (exlab readyz, or port 25 for a frontend).
status   lists the lab's namespaces, addresses, pids and whether the first SMTP port answers.
down     stops the servers, deletes the namespaces, veths, bridge and /etc/netns/P-* (idempotent).

--exlab BIN   the exlab binary (default: exlab on PATH)
--dir DIR     data directories (DIR/<server>), logs, pid files, the lab's state
              (default /var/tmp/exlab-lab)
--prefix P    names: bridge P-br0, namespaces and host veths P-<server> (default exlab;
              keep P-<server> within 15 characters)
--net A.B.C   the /24 of the lab (default: the first of the documentation ranges of RFC 5737,
              192.0.2 (TEST-NET-1), 198.51.100 and 203.0.113 (TEST-NET-2, -3), that this
              host does not route already)
EOF
}

die() {
	echo "lab-netns.sh: $*" >&2
	exit 1
}

cmd=${1:-}
[[ -n $cmd ]] || {
	usage >&2
	exit 2
}
shift
nfront=0 nhub=0 building=0
if [[ $cmd == up && $# -ge 2 && $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ ]]; then
	nfront=$1 nhub=$2
	shift 2
fi
config="" bin=exlab dir=/var/tmp/exlab-lab prefix=exlab net=""
while [[ $# -gt 0 ]]; do
	[[ $# -ge 2 ]] || die "$1 needs a value"
	case $1 in
	--config) config=$2 ;;
	--exlab) bin=$2 ;;
	--dir) dir=$2 ;;
	--prefix) prefix=$2 ;;
	--net) net=$2 ;;
	*)
		usage >&2
		exit 2
		;;
	esac
	shift 2
done
[[ $prefix =~ ^[a-z0-9]+$ ]] || die "--prefix: lower-case letters and digits only"
[[ -z $net || $net =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "--net: three octets, e.g. 192.0.2"
bridge=$prefix-br0
state=$dir/lab.tsv # name, namespace, address, service, first SMTP port, admin address

# servers prints "name fqdn roles" for each server of an organization file: the Servers:
# block's "  - Name:", "Fqdn:" and "Roles:" lines (the layout exlab's examples use).
servers() {
	awk '
		/^[^ #]/ { in_servers = ($1 == "Servers:") }
		!in_servers { next }
		{ sub(/#.*/, "") }
		/^  - Name:/ { if (name != "") print name, fqdn, roles; name = $3; fqdn = ""; roles = "FrontendTransport,HubTransport" }
		/^    Fqdn:/ { fqdn = $2 }
		/^    Roles:/ { r = $0; sub(/.*\[/, "", r); sub(/\].*/, "", r); gsub(/ /, "", r); roles = r }
		END { if (name != "") print name, fqdn, roles }
	' "$1"
}

# generate writes the organization of nfront frontends and nhub hubs.
generate() {
	local i n
	cat <<'EOF'
# Written by docs/lab-netns.sh: frontends FEnn (Front End Transport alone) and hubs EXnn
# (Transport alone), one site, each server in a network namespace of its own.
Organization:
  Name: Contoso Lab
  ExchangeServerAuthKey: 6c61622d6b65792d636f6e746f736f2d74776f2d736572766572732d6c616221

Servers:
EOF
	for ((i = 1; i <= nhub; i++)); do
		n=$(printf %02d "$i")
		printf '  - Name: EX%s\n    Fqdn: ex%s.contoso.test\n    Site: Default-First-Site-Name\n    Roles: [HubTransport]\n    MailboxDatabase: DB%s\n' "$n" "$n" "$n"
	done
	for ((i = 1; i <= nfront; i++)); do
		n=$(printf %02d "$i")
		printf '  - Name: FE%s\n    Fqdn: fe%s.contoso.test\n    Site: Default-First-Site-Name\n    Roles: [FrontendTransport]\n' "$n" "$n"
	done
	cat <<'EOF'

AcceptedDomains:
  - Name: contoso.test
    DomainName: contoso.test
    DomainType: Authoritative
    Default: true

Mailboxes:
  - Name: Administrator
    PrimarySmtpAddress: administrator@contoso.test
    Password: P@ssw0rd
    Database: DB01
EOF
	for ((i = 1; i <= nhub; i++)); do
		n=$(printf %02d "$i")
		printf '  - Name: User %s\n    PrimarySmtpAddress: user%s@contoso.test\n    Password: P@ssw0rd\n    Database: DB%s\n' "$n" "$n" "$n"
	done
	echo
	echo "ReceiveConnectors:"
	local any='    RemoteIPRanges: ["::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "0.0.0.0-255.255.255.255"]'
	for ((i = 1; i <= nhub; i++)); do
		n=EX$(printf %02d "$i")
		cat <<EOF
  - Name: Default $n
    Server: $n
    TransportRole: HubTransport
    Bindings: ["0.0.0.0:2525", "[::]:2525"]
$any
    AuthMechanism: [Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer]
    PermissionGroups: [ExchangeUsers, ExchangeServers, ExchangeLegacyServers]
    MaxRecipientsPerMessage: 5000
    MaxInboundConnectionPerSource: Unlimited
    ProtocolLoggingLevel: Verbose
  - Name: Client Proxy $n
    Server: $n
    TransportRole: HubTransport
    Bindings: ["[::]:465", "0.0.0.0:465"]
$any
    AuthMechanism: [Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer]
    PermissionGroups: [ExchangeUsers, ExchangeServers]
EOF
	done
	for ((i = 1; i <= nfront; i++)); do
		n=FE$(printf %02d "$i")
		cat <<EOF
  - Name: Default Frontend $n
    Server: $n
    TransportRole: FrontendTransport
    Bindings: ["[::]:25", "0.0.0.0:25"]
$any
    AuthMechanism: [Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer]
    PermissionGroups: [AnonymousUsers, ExchangeServers, ExchangeLegacyServers]
    MaxRecipientsPerMessage: 200
    ProtocolLoggingLevel: Verbose
  - Name: Client Frontend $n
    Server: $n
    TransportRole: FrontendTransport
    Bindings: ["[::]:587", "0.0.0.0:587"]
$any
    AuthMechanism: [Tls, Integrated, BasicAuth, BasicAuthRequireTLS]
    PermissionGroups: [ExchangeUsers]
  - Name: Outbound Proxy Frontend $n
    Server: $n
    TransportRole: FrontendTransport
    Bindings: ["[::]:717", "0.0.0.0:717"]
$any
    AuthMechanism: [Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer]
    PermissionGroups: [ExchangeServers]
EOF
	done
}

# answers says whether something accepts TCP connections at $1:$2 within two seconds.
answers() {
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

up() {
	if [[ -n $config ]]; then
		[[ $((nfront + nhub)) -eq 0 ]] || die "up N M or up --config FILE, not both"
	else
		[[ $((nfront + nhub)) -gt 0 ]] || die "up N M (at least one server) or up --config FILE"
		[[ $nhub -gt 0 || $nfront -eq 0 ]] || die "up N M: frontends need at least one hub"
	fi
	[[ $(id -u) -eq 0 ]] || die "up needs root (ip netns, veth, bridge)"
	command -v "$bin" >/dev/null || die "no exlab binary $bin (--exlab BIN)"
	bin=$(command -v "$bin")
	[[ $bin == /* ]] || bin=$PWD/$bin
	if ip link show "$bridge" >/dev/null 2>&1; then
		die "$bridge exists: a lab with prefix $prefix is up (lab-netns.sh down --prefix $prefix)"
	fi
	# One lab at a time chooses its /24 and makes its bridge (labs of other prefixes run side by side).
	exec 9>/run/lock/exlab-lab-netns.lock
	flock -w 30 9 || die "another lab-netns.sh up holds /run/lock/exlab-lab-netns.lock"
	if [[ -z $net ]]; then
		local n
		for n in 192.0.2 198.51.100 203.0.113; do
			if [[ -z $(ip -4 route show "$n.0/24") ]]; then
				net=$n
				break
			fi
		done
		[[ -n $net ]] || die "192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24 are all routed here (--net)"
	elif [[ -n $(ip -4 route show "$net.0/24") ]]; then
		die "$net.0/24 is routed here already (another lab? --net)"
	fi
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [[ -z $config ]]; then
		config=$dir/organization.yaml
		generate >"$config"
	fi
	config=$(cd "$(dirname "$config")" && pwd)/$(basename "$config")
	"$bin" config validate "$config" >/dev/null || die "$config is not valid (exlab config validate $config)"
	local list
	list=$(servers "$config")
	[[ -n $list ]] || die "$config names no server"
	[[ $(wc -l <<<"$list") -le 200 ]] || die "at most 200 servers"

	local token
	token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	printf '%s\n' "$token" >"$dir/admin.token"
	chmod 600 "$dir/admin.token"
	: >"$state"
	# From here on a failure (or an interrupt) leaves a half-built lab: take it down again.
	building=1
	trap 'if [[ $building == 1 ]]; then echo "lab-netns.sh: up failed; taking the lab down" >&2; down; fi' EXIT

	ip link add "$bridge" type bridge
	ip addr add "$net.1/24" dev "$bridge"
	ip link set "$bridge" up
	exec 9>&-

	local hosts="127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
$net.1 lab-host"
	local i=11 name fqdn roles ns addr
	while read -r name fqdn roles; do
		hosts+=$'\n'"$net.$i $fqdn ${fqdn%%.*}"
		i=$((i + 1))
	done <<<"$list"

	i=11
	while read -r name fqdn roles; do
		ns=$prefix-${name,,}
		addr=$net.$i
		[[ ${#ns} -le 15 ]] || die "$ns: more than 15 characters for an interface name (--prefix)"
		ip netns add "$ns"
		ip link add "$ns" type veth peer name eth0 netns "$ns"
		ip link set "$ns" master "$bridge" up
		ip -n "$ns" link set lo up
		ip -n "$ns" addr add "$addr/24" dev eth0
		ip -n "$ns" link set eth0 up
		mkdir -p "/etc/netns/$ns"
		printf '%s\n' "$hosts" >"/etc/netns/$ns/hosts"

		local service port admin
		case $roles in
		*FrontendTransport*HubTransport* | *HubTransport*FrontendTransport*) service=serve port=25 ;;
		*FrontendTransport*) service=frontend port=25 ;;
		*) service=hub port=2525 ;;
		esac
		local args=(--config "$config" --server "$name" --data "$dir/$name")
		admin=-
		if [[ $service != frontend ]]; then # the admin listener runs where the hub runs
			admin=$addr:8470
			args+=(--admin "$admin" --admin-token "$token")
		fi
		mkdir -p "$dir/$name"
		ip netns exec "$ns" "$bin" "$service" "${args[@]}" </dev/null >"$dir/$name.log" 2>&1 &
		echo $! >"$dir/$name.pid"
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$ns" "$addr" "$service" "$port" "$admin" >>"$state"
		i=$((i + 1))
	done <<<"$list"

	local deadline=$((SECONDS + 60)) pid
	while read -r name ns addr service port admin; do
		pid=$(cat "$dir/$name.pid")
		until grep -q "every connector listens" "$dir/$name.log" && {
			if [[ $admin != - ]]; then "$bin" readyz --admin "$admin" </dev/null >/dev/null 2>&1; else answers "$addr" "$port"; fi
		}; do
			kill -0 "$pid" 2>/dev/null || {
				cat "$dir/$name.log" >&2
				die "$name exited (log: $dir/$name.log)"
			}
			[[ $SECONDS -lt $deadline ]] || {
				cat "$dir/$name.log" >&2
				die "$name not ready after 60s (log: $dir/$name.log)"
			}
			sleep 0.2
		done
	done <"$state"
	building=0
	echo "lab up: organization $config, host $net.1 on $bridge, data under $dir"
	status
}

status() {
	if [[ ! -s $state ]]; then
		echo "no lab in $dir"
	else
		printf '%-6s %-16s %-15s %-8s %-7s %-19s %-3s %-19s %s\n' SERVER NAMESPACE ADDRESS SERVICE PID SMTP UP ADMIN PORTS
		local name ns addr service port admin pid up ports
		while IFS=$'\t' read -r name ns addr service port admin; do
			# Every port the server's connectors listen on, as its log says.
			ports=$(grep -o 'listening on [^ ]*' "$dir/$name.log" 2>/dev/null | sed 's/.*://' | sort -nu | paste -sd, -)
			pid=$(cat "$dir/$name.pid" 2>/dev/null || echo -)
			if [[ $pid != - ]] && ! kill -0 "$pid" 2>/dev/null; then
				pid="($pid)"
			fi
			up=no
			if answers "$addr" "$port"; then up=yes; fi
			printf '%-6s %-16s %-15s %-8s %-7s %-19s %-3s %-19s %s\n' "$name" "$ns" "$addr" "$service" "$pid" "$addr:$port" "$up" "$admin" "${ports:--}"
		done <"$state"
	fi
	local other
	other=$(ip netns list | awk -v p="$prefix-" 'index($1, p) == 1 { print $1 }' | tr '\n' ' ')
	[[ -z $other ]] || echo "namespaces of prefix $prefix: $other"
}

down() {
	building=0
	set +e
	local f pid ns
	# The servers this script started (their pid files), then anything left in its namespaces.
	for f in "$dir"/*.pid; do
		[[ -e $f ]] || continue
		pid=$(cat "$f")
		[[ $pid =~ ^[0-9]+$ ]] && kill -TERM "$pid" 2>/dev/null
	done
	local namespaces
	namespaces=$(ip netns list 2>/dev/null | awk -v p="$prefix-" 'index($1, p) == 1 { print $1 }')
	local deadline=$((SECONDS + 15)) left
	while :; do
		left=0
		for f in "$dir"/*.pid; do
			[[ -e $f ]] || continue
			pid=$(cat "$f")
			[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && left=1
		done
		for ns in $namespaces; do
			[[ -n $(ip netns pids "$ns" 2>/dev/null) ]] && left=1
		done
		[[ $left -eq 1 && $SECONDS -lt $deadline ]] || break
		sleep 0.2
	done
	for f in "$dir"/*.pid; do
		[[ -e $f ]] || continue
		pid=$(cat "$f")
		[[ $pid =~ ^[0-9]+$ ]] && kill -KILL "$pid" 2>/dev/null
		rm -f "$f"
	done
	for ns in $namespaces; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip link del "$ns" 2>/dev/null # the host end of its veth (the other end goes with it)
		ip netns del "$ns" 2>/dev/null
		rm -rf "/etc/netns/$ns"
	done
	for f in /etc/netns/"$prefix"-*; do
		[[ -d $f ]] && rm -rf "$f"
	done
	rmdir /etc/netns 2>/dev/null # when no other namespace has files there
	ip link del "$bridge" 2>/dev/null
	rm -f "$state"
	set -e
	echo "lab down (prefix $prefix; data kept under $dir)"
}

case $cmd in
up) up ;;
status) status ;;
down) down ;;
-h | --help | help) usage ;;
*)
	usage >&2
	exit 2
	;;
esac
