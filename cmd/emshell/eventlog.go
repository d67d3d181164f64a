package emshell

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/exlab/exlab/cmd/shell"
)

// eventLogger is a Backend that also serves the server's recent Exchange events
// (*adminapi.Client does: GET /api/v1/eventlog).
type eventLogger interface {
	EventLog(ctx context.Context) ([]map[string]any, error)
}

// Get-WinEvent's table: `TimeCreated  Id  LevelDisplayName  Message`, newest first.
var winEventView = &shell.View{Kind: shell.TableView, Columns: []shell.Column{{Property: "TimeCreated"}, {Property: "Id", Right: true},
	{Property: "LevelDisplayName"}, {Property: "Message"}}}

// winEventCmdlet is Get-WinEvent over the Application log's transport events: the events
// exlab reproduces (1020, 1021, 1035, 12014, 15004 …) as the Event Viewer lists them.
func (s *Shell) winEventCmdlet() *shell.Cmdlet {
	return &shell.Cmdlet{Name: "Get-WinEvent", Synopsis: "Gets events from event logs and event tracing log files on local and remote computers.",
		ClassName: "Microsoft.PowerShell.Commands.GetWinEventCommand", View: winEventView,
		Params: []shell.Param{{Name: "LogName", Type: shell.Strings, Position: 1}, {Name: "ProviderName", Type: shell.Strings},
			{Name: "MaxEvents", Type: shell.Int}, {Name: "FilterHashtable", Type: shell.Any, TypeName: "Hashtable[]"}},
		Process: func(c *shell.Call) error {
			el, ok := s.b.(eventLogger)
			if !ok {
				return s.failure(c, fmt.Errorf("this server does not serve its event log"))
			}
			logs, providers := c.Strings("LogName"), c.Strings("ProviderName")
			var ids []int64
			var levels []int64
			if h, ok := c.Value("FilterHashtable").(*shell.Hashtable); ok {
				for _, k := range h.Keys() {
					v, _ := h.Get(k)
					var vals []string
					switch x := v.(type) {
					case []any:
						for _, e := range x {
							vals = append(vals, fmt.Sprint(e))
						}
					default:
						vals = []string{fmt.Sprint(x)}
					}
					switch strings.ToLower(k) {
					case "logname":
						logs = append(logs, vals...)
					case "providername":
						providers = append(providers, vals...)
					case "id":
						for _, v := range vals {
							n, _ := strconv.ParseInt(v, 10, 64)
							ids = append(ids, n)
						}
					case "level":
						for _, v := range vals {
							n, _ := strconv.ParseInt(v, 10, 64)
							levels = append(levels, n)
						}
					}
				}
			}
			for _, l := range logs {
				if !strings.EqualFold(l, "Application") {
					rec := shell.NewError(shell.ObjectNotFound, "Exception", "NoMatchingLogsFound",
						"There is not an event log on the localhost computer that matches \"%s\".", l)
					return rec
				}
			}
			evs, err := el.EventLog(c.Ctx)
			if err != nil {
				return s.failure(c, err)
			}
			max := int64(len(evs))
			if c.IsSet("MaxEvents") {
				max = c.Int("MaxEvents")
			}
			var n int64
			for i := len(evs) - 1; i >= 0 && n < max; i-- { // newest first, as Get-WinEvent returns them
				ev := evs[i]
				id, _ := ev["EventID"].(float64)
				level := fmt.Sprint(ev["Level"])
				lvl := map[string]int64{"Error": 2, "Warning": 3, "Information": 4}[level]
				src := fmt.Sprint(ev["Source"])
				if len(providers) > 0 && !contains(providers, src) || len(ids) > 0 && !containsInt(ids, int64(id)) || len(levels) > 0 && !containsInt(levels, lvl) {
					continue
				}
				t, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(ev["TimeCreated"]))
				o := shell.NewObject("System.Diagnostics.Eventing.Reader.EventLogRecord", "TimeCreated", t.Local(), "ProviderName", src,
					"Id", int64(id), "Level", lvl, "LevelDisplayName", level, "LogName", "Application", "MachineName", s.ComputerName,
					"Message", fmt.Sprint(ev["Message"]))
				o.View = winEventView
				c.Write(o)
				n++
			}
			return nil
		}}
}

func containsInt(xs []int64, v int64) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}
