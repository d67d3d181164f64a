package main

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/exlab/exlab/config"
)

// TestReadmeDocumentsEveryParameter keeps the configuration reference in README.md in step with
// the config struct tree: every parameter the decoder accepts is named there.
func TestReadmeDocumentsEveryParameter(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, v := range []any{config.OrganizationInfo{}, config.Server{}, config.AcceptedDomain{}, config.Mailbox{},
		config.ReceiveConnector{}, config.ADPermission{}, config.SendConnector{}, config.Certificate{}, config.Credential{}, config.TransportConfig{},
		config.Fault{}, config.ServerComponentState{}, config.Organization{}, config.DkimSigningConfig{}} {
		rt := reflect.TypeOf(v)
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			if !f.IsExported() || f.Tag.Get("exlab") == "-" {
				continue
			}
			if !strings.Contains(readme, f.Name) {
				t.Errorf("README.md does not document %s.%s", rt.Name(), f.Name)
			}
		}
	}
	for _, cmd := range []string{"exlab serve", "exlab config default", "exlab config validate", "exlab config apply", "SIGHUP", "exlab mailbox list",
		"exlab mailbox show", "exlab bench", "exlab probe", "exlab connector audit", "exlab certificate new", "exlab frontend", "exlab hub", "exlab version",
		"exlab fault set", "exlab fault list", "exlab fault clear", "exlab maintenance", "--port-offset", "--data", "--admin", "--server", "make run", "make test"} {
		if !strings.Contains(readme, cmd) {
			t.Errorf("README.md does not mention %q", cmd)
		}
	}
}
