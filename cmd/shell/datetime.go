package shell

import (
	"fmt"
	"strings"
	"time"
)

// DateTime support: Get-Date, [datetime] casts, DateTime parameters and the methods admins use
// for Get-MessageTrackingLog -Start (Get-Date).AddHours(-1).

// dateLayouts are the forms a DateTime argument is parsed from (en-US and ISO 8601).
var dateLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02",
	"1/2/2006 3:04:05 PM", "1/2/2006 3:04 PM", "1/2/2006 15:04:05", "1/2/2006 15:04", "1/2/2006",
}

func parseDate(s string, loc *time.Location) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// dateString is a DateTime inside a string ("$d"): PowerShell formats it with the invariant
// culture.
func dateString(t time.Time) string { return t.Format("01/02/2006 15:04:05") }

// dateCell is a DateTime in a table or list: ToString() in en-US.
func dateCell(t time.Time) string { return t.Format("1/2/2006 3:04:05 PM") }

// dateLong is Out-Default's view of a DateTime alone (the DateTime format view: long date and
// long time).
func dateLong(t time.Time) string { return t.Format("Monday, January 2, 2006 3:04:05 PM") }

// Time is a DateTime parameter's value.
func (c *Call) Time(name string) time.Time {
	t, _ := c.Value(name).(time.Time)
	return t
}

func (e *Engine) convertDate(c *Cmdlet, p *Param, v any) (any, *ErrorRecord) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case string:
		if t, ok := parseDate(x, e.location()); ok {
			return t, nil
		}
	}
	return nil, errTransform(c.Name, p.Name, fmt.Sprintf("Cannot convert value %q to type \"System.DateTime\". Error: \"String was not recognized as a valid DateTime.\"", toString(v)))
}

func (e *Engine) location() *time.Location {
	if e.Now != nil {
		return e.Now().Location()
	}
	return time.Local
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func dateMethod(t time.Time, m string, args []any) (any, bool) {
	f, _ := toNumber(argAt(args, 0))
	d := func(unit time.Duration) time.Time { return t.Add(time.Duration(f * float64(unit))) }
	switch m {
	case "adddays":
		return d(24 * time.Hour), true
	case "addhours":
		return d(time.Hour), true
	case "addminutes":
		return d(time.Minute), true
	case "addseconds":
		return d(time.Second), true
	case "addmonths":
		return t.AddDate(0, int(f), 0), true
	case "addyears":
		return t.AddDate(int(f), 0, 0), true
	case "touniversaltime":
		return t.UTC(), true
	case "tolocaltime":
		return t.Local(), true
	case "tostring":
		if len(args) == 0 {
			return dateCell(t), true
		}
		return netDateFormat(t, toString(args[0])), true
	}
	return nil, false
}

// netDateFormat covers the .NET custom date format specifiers of log file names and reports.
func netDateFormat(t time.Time, f string) string {
	r := strings.NewReplacer("yyyy", "2006", "yy", "06", "MMMM", "January", "MMM", "Jan", "MM", "01",
		"dddd", "Monday", "ddd", "Mon", "dd", "02", "HH", "15", "hh", "03", "mm", "04", "ss", "05", "tt", "PM", "fff", ".000")
	return t.Format(r.Replace(f))
}

func datePart(t time.Time, name string) (any, bool) {
	switch strings.ToLower(name) {
	case "year":
		return int64(t.Year()), true
	case "month":
		return int64(t.Month()), true
	case "day":
		return int64(t.Day()), true
	case "hour":
		return int64(t.Hour()), true
	case "minute":
		return int64(t.Minute()), true
	case "second":
		return int64(t.Second()), true
	case "dayofweek":
		return t.Weekday().String(), true
	case "date":
		y, m, d := t.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, t.Location()), true
	}
	return nil, false
}

func (e *Engine) registerDate(reg func(*Cmdlet)) {
	reg(&Cmdlet{
		Name:     "Get-Date",
		Synopsis: "Gets the current date and time.",
		Params:   []Param{{Name: "Date", Type: DateTime, Position: 1, FromPipeline: true}, {Name: "Format", Type: String}},
		Process: func(c *Call) error {
			t := c.engine.now()
			if c.IsSet("Date") {
				t = c.Time("Date")
			}
			if c.IsSet("Format") {
				c.Write(netDateFormat(t, c.String("Format")))
				return nil
			}
			c.Write(t)
			return nil
		},
	})
}
