package main

import (
	"strings"
	"testing"
)

func TestIssue14Checks(t *testing.T) {
	at := func(rates map[int]measure) func(int) measure { return func(i int) measure { return rates[i] } }
	m := issue14{
		fe:     at(map[int]measure{1: {Rate: 3000, CPUMs: 100}, 4: {Rate: 3000}, 6: {Rate: 2000}}),
		pf:     at(map[int]measure{1: {Rate: 500, CPUMs: 1300}, 6: {Rate: 700}}),
		sinkAt: at(map[int]measure{1: {Rate: 10000}, 4: {Rate: 8000}, 6: {Rate: 3000}}),
		hub:    measure{Rate: 4900},
		sub: map[string]map[string]subMeasure{
			subPoints[0].Name: {subExlabName: {measure: measure{Rate: 1000}}, subPostfixName: {measure: measure{Rate: 200}}},
			subPoints[1].Name: {subExlabName: {measure: measure{Rate: 1000}}, subPostfixName: {}},
		},
		agreement: []sourceAgreement{{OK: true, Delta: 0.05}, {OK: false, Delta: 0.2}},
		sustained: []sustainedResult{{Label: "all recipients known", Offered: 1000, Rate: 999, Flat: true, DrainOK: true},
			{Label: "unknown", Offered: 1000, Rate: 1000, Refused: 3, Flat: true, DrainOK: true},
			{Label: "behind", Offered: 1000, Rate: 900, Flat: true, DrainOK: true}},
	}
	got := map[string]bool{}
	var b strings.Builder
	issue14Checks(&b, func(name string, ok bool, _ string) { got[name] = ok }, m)
	want := map[string]bool{
		"frontend, 1 KiB, 20 sessions: ≥ 0.30× smtp-sink":                                 true,  // 0.30×
		"hub, same load: ≥ 0.5× smtp-sink":                                                false, // 0.49×
		"frontend, one message per connection: ≥ 0.40× smtp-sink":                         false, // 0.375×
		"100 KiB, 20 sessions: ≥ 3× Postfix":                                              false, // 2.86×
		"100 KiB, 20 sessions: ≥ 0.7× smtp-sink":                                          false, // 0.67×
		"frontend CPU per message ≤ 1/12 of Postfix's":                                    true,  // 1/13
		"sustained, all recipients known: rate held, 0 refusals, RSS flat, drained ≤ 5 s": true,
		"sustained, unknown: rate held, 0 refusals, RSS flat, drained ≤ 5 s":              false,
		"sustained, behind: rate held, 0 refusals, RSS flat, drained ≤ 5 s":               false, // 90% of the offered rate sent
		subPoints[0].Name + ": ≥ 5× Postfix submission":                                   true,
		subPoints[1].Name + ": ≥ 5× Postfix submission":                                   false, // Postfix measured nothing
		"smtp-source and exlab bench agree within 15%":                                    false,
	}
	for name, ok := range want {
		g, present := got[name]
		if !present {
			t.Errorf("no check %q", name)
		} else if g != ok {
			t.Errorf("%q = %v, want %v", name, g, ok)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d checks, want %d: %v", len(got), len(want), got)
	}
}
