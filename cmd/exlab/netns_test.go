package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The organization of docs/examples/two-servers.yaml as separate machines: docs/lab-netns.sh
// puts each server in a network namespace of its own with one address on a private bridge
// (a documentation range of RFC 5737), its Fqdn in /etc/netns/<ns>/hosts, and the example's
// wildcard bindings unchanged. The test talks to the servers from the root namespace, the
// lab's host (.1 on the bridge).

// netnsLab is a lab the script started.
type netnsLab struct {
	dir    string
	ip     map[string]string // server -> its address
	host   string            // the root namespace's address on the bridge
	script string
}

// startNetnsLab runs lab-netns.sh up with the servers of cfg under names of its own (bridge
// xtNNNNN-br0, namespaces xtNNNNN-ex01, …), so that it collides with no lab of the script's
// default prefix and no parallel run; the lab goes down when the test ends, failed or not.
func startNetnsLab(t *testing.T, cfg string) *netnsLab {
	t.Helper()
	if os.Geteuid() != 0 || exec.Command("ip", "netns", "list").Run() != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("network namespaces are needed under CI: run as root with iproute2 (ip netns)")
		}
		t.Skip("needs root and ip netns: each server runs in a network namespace of its own")
	}
	script, err := filepath.Abs("../../docs/lab-netns.sh")
	if err != nil {
		t.Fatal(err)
	}
	lab := &netnsLab{dir: t.TempDir(), ip: map[string]string{}, script: script}
	prefix := fmt.Sprintf("xt%05d", rand.IntN(100000))
	t.Cleanup(func() {
		if t.Failed() {
			for name := range lab.ip {
				b, _ := os.ReadFile(filepath.Join(lab.dir, name+".log"))
				t.Logf("%s's stderr:\n%s", name, b)
			}
		}
		out, err := lab.run(t, "down", "--dir", lab.dir, "--prefix", prefix)
		if err != nil {
			t.Errorf("lab-netns.sh down: %v\n%s", err, out)
		}
		list, _ := exec.Command("ip", "netns", "list").Output()
		links, _ := exec.Command("ip", "-o", "link", "show").Output()
		for _, l := range strings.Split(string(list)+string(links), "\n") {
			if strings.Contains(l, prefix+"-") {
				t.Errorf("left after down: %s", l)
			}
		}
	})
	out, err := lab.run(t, "up", "--config", cfg, "--exlab", exlabBin, "--dir", lab.dir, "--prefix", prefix)
	if err != nil {
		t.Fatalf("lab-netns.sh up: %v\n%s", err, out)
	}
	t.Logf("lab-netns.sh up:\n%s", out)
	b, err := os.ReadFile(filepath.Join(lab.dir, "lab.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(l, "\t")
		lab.ip[f[0]] = f[2]
		lab.host = f[2][:strings.LastIndex(f[2], ".")] + ".1"
	}
	return lab
}

// run runs the script, for at most 90 seconds.
func (lab *netnsLab) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", append([]string{lab.script}, args...)...).CombinedOutput()
	return string(out), err
}

// data is the data directory of server name.
func (lab *netnsLab) data(name string) string { return filepath.Join(lab.dir, name) }

// restrictedHub is a hub connector of EX02 on Default EX02's bindings that only EX01's
// address reaches (RemoteIPRanges: the most specific range wins, spec §3), with a banner of
// its own; Default EX02 gets its protocol log turned on.
func restrictedHub(t *testing.T, example, ex01 string) string {
	t.Helper()
	b, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "  - Name: Default EX02\n")
	j := strings.Index(s, "  - Name: Client Proxy EX02\n")
	if i < 0 || j < i {
		t.Fatal("the example has no Default EX02 followed by Client Proxy EX02")
	}
	block := strings.Replace(s[i:j], "ProtocolLoggingLevel: None", "ProtocolLoggingLevel: Verbose", 1)
	extra := fmt.Sprintf(`  - Name: From EX01
    Server: EX02
    TransportRole: HubTransport
    Bindings: ["0.0.0.0:2525", "[::]:2525"]
    RemoteIPRanges: ["%s"]
    AuthMechanism: [Tls, ExchangeServer]
    PermissionGroups: [ExchangeServers]
    Banner: "220 ex02.contoso.test hub connector for EX01 only"
    MaxInboundConnectionPerSource: Unlimited
    ProtocolLoggingLevel: Verbose

`, ex01)
	return s[:i] + block + extra + s[j:]
}

// TestNetnsTwoServers: EX01 and EX02 of the example, each on a machine of its own. A message
// for a mailbox homed on EX02 sent to EX01's port 25 is proxied to EX02's hub, which EX01
// finds by resolving ex02.contoso.test (the namespace's hosts file) and dials from its own
// address; EX02 sees that address in its protocol log, its Received: headers and in the
// choice of receive connector: a connector restricted to EX01's address takes EX01's
// sessions, while the lab host reaching the same binding gets Default EX02.
func TestNetnsTwoServers(t *testing.T) {
	example, err := filepath.Abs("../../docs/examples/two-servers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lab := startNetnsLab(t, example)
	ex01, ex02 := lab.ip["EX01"], lab.ip["EX02"]
	if ex01 == "" || ex02 == "" {
		t.Fatalf("the lab has no EX01 or EX02: %v", lab.ip)
	}
	// EX02 gets a hub connector only EX01 reaches (Set-ReceiveConnector on a running server),
	// before EX01's frontend has a session to EX02.
	cfg := filepath.Join(lab.dir, "two-servers-restricted.yaml")
	if err := os.WriteFile(cfg, []byte(restrictedHub(t, example, ex01)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := exlab(t, "config", "apply", cfg, "--data", lab.data("EX02")); code != 0 {
		t.Fatalf("config apply on EX02: %s%s", out, errOut)
	}

	ts := &twoServers{t: t, ip: lab.ip}
	rep, err := ts.send([]string{"user1@contoso.test"}, "between machines")
	if err != nil || !strings.Contains(rep, "Hostname=ex02.contoso.test") {
		t.Fatalf("for a mailbox homed on EX02: %q, %v (want EX02's hub's reply)", rep, err)
	}
	waitMailbox(t, lab.data("EX02"), "user1@contoso.test", 1)

	// EX02's hub: the session came from EX01's address and got the restricted connector.
	hubRecv := filepath.Join(lab.data("EX02"), "TransportRoles/Logs/Hub/ProtocolLog/SmtpReceive/*.LOG")
	fileLines(t, hubRecv, `EX02\From EX01`, ","+ex02+":2525,"+ex01+":", "X-EXPS")
	// EX01's frontend dialled ex02.contoso.test's address and got that connector's banner.
	fileLines(t, filepath.Join(lab.data("EX01"), "TransportRoles/Logs/FrontEnd/ProtocolLog/SmtpSend/*.LOG"),
		ex02+":2525", "hub connector for EX01 only")
	// EX01's frontend saw the lab host's address.
	fileLines(t, frontendReceiveLog(lab.data("EX01")), `EX01\Default Frontend EX01`, ","+ex01+":25,"+lab.host+":")

	show, _, _ := exlab(t, "mailbox", "show", "user1@contoso.test", "--data", lab.data("EX02"))
	msg := regexp.MustCompile(`\r?\n[ \t]+`).ReplaceAllString(show, " ") // unfolded
	for _, want := range []string{
		"Received: from ex01.contoso.test (" + ex01 + ") by ex02.contoso.test (" + ex02 + ")",  // EX02's hub, from EX01's frontend
		"Received: from client.example (" + lab.host + ") by ex01.contoso.test (" + ex01 + ")", // EX01's frontend
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the message in EX02's mailbox lacks %q:\n%s", want, show)
		}
	}
	if strings.Contains(msg, "from ex01.contoso.test (127.") {
		t.Errorf("EX02 saw EX01 at a loopback address:\n%s", show)
	}

	// The lab host (not EX01) reaching the same binding gets Default EX02.
	c, err := net.DialTimeout("tcp", ex02+":2525", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	banner, err := bufio.NewReader(c).ReadString('\n')
	fmt.Fprint(c, "QUIT\r\n")
	c.Close()
	if err != nil || !strings.HasPrefix(banner, "220 ex02.contoso.test Microsoft ESMTP MAIL Service ready") {
		t.Fatalf("the lab host at EX02's port 2525: %q, %v (want Default EX02's banner)", banner, err)
	}
	fileLines(t, hubRecv, `EX02\Default EX02`, ","+ex02+":2525,"+lab.host+":", "220 ex02.contoso.test Microsoft ESMTP")
	if l := findLine(hubRecv, `EX02\From EX01`, ","+lab.host+":"); l != "" {
		t.Errorf("the connector restricted to %s took the lab host's session: %s", ex01, l)
	}
}
