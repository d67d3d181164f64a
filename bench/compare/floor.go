package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// The floor: the least a Go SMTP receiver that keeps exlab's promise can do per message. It
// reads commands with bufio, answers each with a short fixed reply as smtp-sink does (one write
// per reply, as the load generator does not pipeline; exlab's texts belong to smtpwire's table,
// which bench may not import) and commits each message to Pebble with Sync before its
// 250, with the queue's Pebble settings; no logs, no metrics, no second hop, no categorizer. Run
// in the same pass as smtp-sink and exlab, it shows how far the machine lets a durable Go
// server go: exlab's hub does everything this does and its services' work on top. compare runs
// it as a child of itself (-serve-floor).

const floorName = "Go floor (replies + synced Pebble commit)"

// startFloor runs this program again as the floor server on addr, with its store in dir.
func startFloor(addr, dir string) (*exec.Cmd, error) {
	cmd := exec.Command(os.Args[0], "-serve-floor", addr, "-floor-dir", dir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, waitPort(addr)
}

// serveFloor is the floor server's main; it returns only with the error that stopped it.
func serveFloor(addr, dir string) error {
	db, err := pebble.Open(dir, &pebble.Options{MemTableSize: 64 << 20, MemTableStopWritesThreshold: 4})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	var seq atomic.Uint64
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go floorSession(c, db, &seq)
	}
}

func floorSession(c net.Conn, db *pebble.DB, seq *atomic.Uint64) {
	defer c.Close()
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	say := func(s string) bool {
		_, _ = w.WriteString(s)
		return w.Flush() == nil
	}
	const fqdn = "ex01.contoso.test"
	if !say("220 " + fqdn + " ESMTP\r\n") {
		return
	}
	var body bytes.Buffer
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		verb := string(bytes.ToUpper(line[:min(4, len(line))]))
		var reply string
		switch verb {
		case "EHLO", "HELO":
			reply = "250-" + fqdn + "\r\n250-PIPELINING\r\n250-SIZE 37748736\r\n250-8BITMIME\r\n250 CHUNKING\r\n"
		case "MAIL":
			body.Reset()
			reply = "250 Ok\r\n"
		case "RCPT":
			reply = "250 Ok\r\n"
		case "QUIT":
			say("221 Bye\r\n")
			return
		case "DATA", "BDAT":
			if verb == "DATA" {
				if !say("354 End data with <CR><LF>.<CR><LF>\r\n") {
					return
				}
				for {
					l, err := r.ReadSlice('\n')
					if err != nil {
						return
					}
					if len(l) == 3 && l[0] == '.' {
						break
					}
					body.Write(l)
				}
			} else {
				f := bytes.Fields(line)
				n := 0
				if len(f) > 1 {
					n, _ = strconv.Atoi(string(f[1]))
				}
				if _, err := io.CopyN(&body, r, int64(n)); err != nil {
					return
				}
				if len(f) < 3 || !bytes.EqualFold(f[2], []byte("LAST")) {
					reply = "250 Ok\r\n"
					break
				}
			}
			id := seq.Add(1)
			b := db.NewBatch()
			_ = b.Set([]byte("body/"+strconv.FormatUint(id, 10)), body.Bytes(), nil)
			if err := b.Commit(pebble.Sync); err != nil {
				say("451 Error: queue file write error\r\n")
				return
			}
			_ = b.Close()
			reply = "250 Ok: queued as " + strconv.FormatUint(id, 16) + "\r\n"
		default:
			reply = "250 Ok\r\n"
		}
		if !say(reply) {
			return
		}
	}
}

// writeFloor says, per point, how the floor compares with smtp-sink and exlab with the floor.
func writeFloor(b *strings.Builder, selected []point, targets []target, med func(pn, tn string) measure) {
	fmt.Fprintf(b, "\n## The floor\n\n%s is a Go SMTP receiver of about 100 lines (bench/compare/floor.go) that answers with short fixed replies and commits each message to Pebble with Sync before its 250, with the queue's Pebble settings, and does nothing else: no logs, tracking, metrics, categorizer, headers or Mailbox Delivery hop. It is what a durable Go server can reach on this machine; exlab's hub does all it does and a Transport service's work besides.\n\n| point | floor vs smtp-sink | exlab hub vs floor | exlab frontend vs floor | server CPU s / 1,000 msgs: floor / hub / frontend |\n|---|---:|---:|---:|---:|\n", floorName)
	for _, p := range selected {
		fl, sink := med(p.Name, floorName), med(p.Name, "smtp-sink (no storage)")
		fe, hub := med(p.Name, targets[0].Name), med(p.Name, targets[1].Name)
		if fl.Rate == 0 {
			continue
		}
		r := func(a, z float64) string {
			if z == 0 {
				return ""
			}
			return fmt.Sprintf("%.2f×", a/z)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %.3f / %.3f / %.3f |\n", p.Name, r(fl.Rate, sink.Rate), r(hub.Rate, fl.Rate), r(fe.Rate, fl.Rate),
			fl.CPUMs/1000, hub.CPUMs/1000, fe.CPUMs/1000)
	}
}
