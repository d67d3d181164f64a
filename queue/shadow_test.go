package queue

import (
	"testing"
)

func TestShadows(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put := func(primary, nmid string, id uint64) {
		t.Helper()
		if err := s.PutShadow(primary, nmid, &Message{ID: id, From: "a@example.org", Recipients: []Recipient{{Address: "b@contoso.test"}}},
			[]byte("Subject: "+nmid+"\r\n\r\nbody\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	put("EX01", "n1", 1)
	put("EX01", "n2", 2)
	put("EX03", "n3", 3)
	list := func() map[string][]uint64 {
		out := map[string][]uint64{}
		if err := s.Shadows(func(sh Shadow) bool {
			out[sh.Primary+"/"+sh.NetworkMessageID] = append(out[sh.Primary+"/"+sh.NetworkMessageID], sh.Message.ID)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := list()
	for _, k := range []string{"ex01/n1", "ex01/n2", "ex03/n3"} {
		if len(got[k]) != 1 {
			t.Errorf("shadow %s: %v (all: %v)", k, got[k], got)
		}
	}
	if len(got) != 3 {
		t.Errorf("shadows: %v", got)
	}
	b, err := s.ShadowBody("ex01", "n2")
	if err != nil || string(b) != "Subject: n2\r\n\r\nbody\r\n" {
		t.Errorf("ShadowBody: %q, %v", b, err)
	}
	if err := s.DeleteShadows("EX01", []string{"n1", "n2", "missing"}); err != nil {
		t.Fatal(err)
	}
	if got := list(); len(got) != 1 || len(got["ex03/n3"]) != 1 {
		t.Errorf("after the discard: %v", got)
	}
	if _, err := s.ShadowBody("ex01", "n2"); err == nil {
		t.Error("the discarded copy's content is still there")
	}
}
