package transport

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
)

// TestShadowCandidates: which hubs a shadow copy may go to, in order, for each
// ShadowMessagePreferenceSetting and MaxRetriesForLocalSiteShadow.
func TestShadowCandidates(t *testing.T) {
	hub := func(name, site string) config.Server {
		return config.Server{Name: name, Site: site, Roles: []config.TransportRole{config.HubTransport}}
	}
	org := &config.Organization{Servers: []config.Server{hub("EX01", "A"), hub("EX02", "A"), hub("EX03", "A"), hub("EX04", "A"),
		hub("EX11", "B"), {Name: "FE01", Site: "A", Roles: []config.TransportRole{config.FrontendTransport}}}}
	for _, tc := range []struct {
		pref    config.ShadowMessagePreference
		retries int
		want    []string
	}{
		{config.ShadowPreferRemote, 2, []string{"EX11", "EX02", "EX03", "EX04"}},
		{config.ShadowPreferRemote, 0, []string{"EX11", "EX02"}},
		{config.ShadowLocalOnly, 1, []string{"EX02", "EX03"}},
		{config.ShadowRemoteOnly, 2, []string{"EX11"}},
	} {
		org.TransportConfig.ShadowMessagePreferenceSetting, org.TransportConfig.MaxRetriesForLocalSiteShadow = tc.pref, tc.retries
		var got []string
		for _, s := range shadowCandidates(org, &org.Servers[0]) {
			got = append(got, s.Name)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s, %d retries: %v, want %v", tc.pref, tc.retries, got, tc.want)
		}
	}
}

// TestShadowDiscards: a finished message with a shadow copy is offered to its shadow server's
// XQDISCARD once, at most maxDiscardsPerReply at a time; one still waiting, or without a copy,
// is not.
func TestShadowDiscards(t *testing.T) {
	h := &Hub{}
	done := func(id, shadow string, status queue.RecipientStatus) {
		h.shadowDone(&queue.Message{NetworkMessageID: id, Shadow: shadow, Recipients: []queue.Recipient{{Address: "a@b", Status: status}}})
	}
	done("n1", "EX02", queue.StatusDelivered)
	done("n2", "ex02", queue.StatusFailed)
	done("n3", "EX02", queue.StatusPending)   // not finished
	done("n4", "", queue.StatusDelivered)     // no copy
	done("n5", "EX03", queue.StatusDelivered) // another shadow server
	if got := h.takeDiscards("EX02"); !reflect.DeepEqual(got, []string{"n1", "n2"}) {
		t.Errorf("discards for EX02: %v", got)
	}
	if got := h.takeDiscards("EX02"); len(got) != 0 {
		t.Errorf("discards for EX02 a second time: %v", got)
	}
	for i := 0; i < maxDiscardsPerReply+5; i++ {
		done("m"+strconv.Itoa(i), "EX03", queue.StatusDelivered)
	}
	if got := h.takeDiscards("EX03"); len(got) != maxDiscardsPerReply || got[0] != "n5" {
		t.Errorf("first XQDISCARD for EX03: %d ids, first %q", len(got), got[0])
	}
	if got := h.takeDiscards("EX03"); len(got) != 6 {
		t.Errorf("second XQDISCARD for EX03: %d ids, want 6", len(got))
	}
}
