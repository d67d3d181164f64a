package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpreceive"
)

// exlab fault set|list|clear and exlab maintenance on|off|status: fault injection and the
// HubTransport component state of a running server, through its admin listener.

const faultUsage = `Usage: exlab fault set --step STEP (--reply TEXT | --reply-id ID | --delay HH:MM:SS | --disconnect | --bandwidth BYTES)
                       [--name NAME] [--connector NAME] [--probability P] [--count N]
                       [--sender PATTERN] [--recipient PATTERN] [--client RANGE] [--data DIR]
       exlab fault set --file RULES.yaml [--data DIR]
       exlab fault list [--data DIR] [--format table|json]
       exlab fault clear [NAME] [--data DIR]
STEP is one of Connect, Ehlo, StartTls, Auth, Mail, Rcpt, Data, EndOfData, Proxy.
`

func cmdFault(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, faultUsage)
		return 2
	}
	switch args[0] {
	case "set":
		return faultSet(args[1:], stdout, stderr)
	case "list":
		fs := newFlagSet("fault list", stderr, "fault list [--data DIR] [--format table|json]")
		dataDir := fs.String("data", "./exlab-data", "data directory of the running server")
		format := fs.String("format", "table", "table or json")
		if _, err := parseInterspersed(fs, args[1:]); err != nil {
			return 2
		}
		c := dialAdmin(*dataDir)
		if c == nil {
			return errorf(stderr, "no running server answers for %s", *dataDir)
		}
		b, err := c.get("/faults")
		if err != nil {
			return errorf(stderr, "%v", err)
		}
		if *format == "json" {
			_, _ = stdout.Write(b)
			return 0
		}
		var rows []map[string]string
		if err := json.Unmarshal(b, &rows); err != nil {
			return errorf(stderr, "%v", err)
		}
		if len(rows) == 0 {
			fmt.Fprintln(stdout, "no fault rules")
			return 0
		}
		cols := []string{"Name", "Connector", "Step", "Action", "Detail", "Probability", "Count", "Fired", "Match"}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
		for _, r := range rows {
			vals := make([]string, len(cols))
			for i, c := range cols {
				vals[i] = r[c]
			}
			fmt.Fprintln(tw, strings.Join(vals, "\t"))
		}
		_ = tw.Flush()
		return 0
	case "clear":
		fs := newFlagSet("fault clear", stderr, "fault clear [NAME] [--data DIR]")
		dataDir := fs.String("data", "./exlab-data", "data directory of the running server")
		pos, err := parseInterspersed(fs, args[1:])
		if err != nil || len(pos) > 1 {
			fs.Usage()
			return 2
		}
		c := dialAdmin(*dataDir)
		if c == nil {
			return errorf(stderr, "no running server answers for %s", *dataDir)
		}
		name := ""
		if len(pos) == 1 {
			name = pos[0]
		}
		b, err := c.do(http.MethodDelete, "/faults?name="+url.QueryEscape(name))
		if err != nil {
			return errorf(stderr, "%v", err)
		}
		var res struct{ Cleared int }
		_ = json.Unmarshal(b, &res)
		fmt.Fprintf(stdout, "%d fault rule(s) cleared\n", res.Cleared)
		if name != "" && res.Cleared == 0 {
			return errorf(stderr, "no fault rule is named %q", name)
		}
		return 0
	}
	fmt.Fprint(stderr, faultUsage)
	return 2
}

func faultSet(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("fault set", stderr, strings.TrimPrefix(faultUsage, "Usage: exlab "))
	dataDir := fs.String("data", "./exlab-data", "data directory of the running server")
	file := fs.String("file", "", "read the rules from a YAML or JSON file (the configuration's Faults entries)")
	name := fs.String("name", "", "the rule's name (a rule of the same name is replaced)")
	connector := fs.String("connector", "", "receive connector name or identity (default: every connector)")
	step := fs.String("step", "", "Connect, Ehlo, StartTls, Auth, Mail, Rcpt, Data, EndOfData or Proxy")
	reply := fs.String("reply", "", `reply to give instead, e.g. "451 4.7.0 Temporary server error. Please try again later. PRX3"`)
	replyID := fs.String("reply-id", "", "reply of the spec's table to give instead, e.g. R64")
	delay := fs.String("delay", "", "wait this long (hh:mm:ss[.fff]) before going on")
	disconnect := fs.Bool("disconnect", false, "close the connection without a reply")
	bandwidth := fs.String("bandwidth", "", "from this step on, move the session's bytes (read and written together) at most this fast (bytes per second; 64 KB form allowed)")
	probability := fs.String("probability", "", "chance of firing, 0-1 or 0%-100% (default 1)")
	count := fs.Int("count", 0, "fire at most this many times (0: no limit)")
	sender := fs.String("sender", "", "only for senders matching this pattern (*@example.org)")
	recipient := fs.String("recipient", "", "only for recipients matching this pattern")
	client := fs.String("client", "", "only for clients in this range (an address, CIDR or a-b range)")
	if _, err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	var body []byte
	if *file != "" {
		b, err := os.ReadFile(*file)
		if err != nil {
			return errorf(stderr, "%v", err)
		}
		body = b
	} else {
		if *step == "" {
			return errorf(stderr, "fault set: --step is required (or --file)")
		}
		r := map[string]any{"Step": *step}
		actions := 0
		set := func(k string, v any) { r[k] = v }
		if *reply != "" {
			set("Action", "Reply")
			set("Reply", *reply)
			actions++
		}
		if *replyID != "" {
			set("Action", "Reply")
			set("ReplyId", *replyID)
			actions++
		}
		if *delay != "" {
			set("Action", "Delay")
			set("Delay", *delay)
			actions++
		}
		if *disconnect {
			set("Action", "Disconnect")
			actions++
		}
		if *bandwidth != "" {
			set("Action", "Bandwidth")
			set("BytesPerSecond", *bandwidth)
			actions++
		}
		if actions != 1 {
			return errorf(stderr, "fault set: give exactly one of --reply, --reply-id, --delay, --disconnect, --bandwidth")
		}
		for k, v := range map[string]string{"Name": *name, "Connector": *connector, "Probability": *probability,
			"Sender": *sender, "Recipient": *recipient} {
			if v != "" {
				r[k] = v
			}
		}
		if *count != 0 {
			r["Count"] = strconv.Itoa(*count)
		}
		if *client != "" {
			r["RemoteIPRanges"] = []string{*client}
		}
		body, _ = json.Marshal(r)
	}
	c := dialAdmin(*dataDir)
	if c == nil {
		return errorf(stderr, "no running server answers for %s", *dataDir)
	}
	b, err := c.send(http.MethodPost, "/faults", body)
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	var res struct{ Set int }
	_ = json.Unmarshal(b, &res)
	fmt.Fprintf(stdout, "%d fault rule(s) set\n", res.Set)
	return 0
}

// faultView is a rule with every value printed as the configuration writes it.
func faultView(f smtpreceive.FaultInfo) map[string]string {
	v := map[string]string{"Name": f.Name, "Connector": f.Connector, "Step": string(f.Step), "Action": string(f.Action),
		"Probability": f.Probability.String(), "Count": strconv.Itoa(f.Count), "Fired": strconv.FormatInt(f.Fired, 10),
		"Remaining": strconv.FormatInt(f.Remaining, 10)}
	if f.Connector == "" {
		v["Connector"] = "*"
	}
	switch f.Action {
	case config.FaultReply:
		v["Detail"] = f.Reply
		if f.ReplyId != "" {
			v["Detail"] = f.ReplyId
		}
	case config.FaultDelay:
		v["Detail"] = f.Delay.String()
	case config.FaultBandwidth:
		v["Detail"] = f.BytesPerSecond.String() + "/s"
	}
	var match []string
	if f.Sender != "" {
		match = append(match, "sender "+f.Sender)
	}
	if f.Recipient != "" {
		match = append(match, "recipient "+f.Recipient)
	}
	for _, r := range f.RemoteIPRanges {
		match = append(match, "client "+r.String())
	}
	v["Match"] = strings.Join(match, ", ")
	return v
}

const maintenanceUsage = "Usage: exlab maintenance on|off|status [--data DIR]\n"

// cmdMaintenance: Set-ServerComponentState -Component HubTransport -State Inactive|Active.
func cmdMaintenance(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, maintenanceUsage)
		return 2
	}
	fs := newFlagSet("maintenance", stderr, "maintenance on|off|status [--data DIR]")
	dataDir := fs.String("data", "./exlab-data", "data directory of the running server")
	if _, err := parseInterspersed(fs, args[1:]); err != nil {
		return 2
	}
	c := dialAdmin(*dataDir)
	if c == nil {
		return errorf(stderr, "no running server answers for %s", *dataDir)
	}
	var b []byte
	var err error
	switch args[0] {
	case "on":
		b, err = c.do(http.MethodPut, "/maintenance?state=Inactive")
	case "off":
		b, err = c.do(http.MethodPut, "/maintenance?state=Active")
	case "status":
		b, err = c.get("/maintenance")
	default:
		fmt.Fprint(stderr, maintenanceUsage)
		return 2
	}
	if err != nil {
		return errorf(stderr, "%v", err)
	}
	var st map[string]string
	_ = json.Unmarshal(b, &st)
	fmt.Fprintf(stdout, "%s %s\n", st["Component"], st["State"])
	return 0
}
