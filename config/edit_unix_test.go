//go:build unix

package config

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// EditFile's lock holds between processes too: children of this test binary add mailboxes
// to one file at once, and every one of them is there at the end.
func TestEditFileProcesses(t *testing.T) {
	if path := os.Getenv("EXLAB_EDIT_CHILD_FILE"); path != "" {
		child, _ := strconv.Atoi(os.Getenv("EXLAB_EDIT_CHILD"))
		for i := 0; i < 5; i++ {
			if _, err := EditFile(path, func(d *Document) error {
				_, err := d.Add("Mailboxes", Field{"Name", fmt.Sprintf("p%d-%d", child, i)},
					Field{"PrimarySmtpAddress", fmt.Sprintf("p%d-%d@contoso.test", child, i)})
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	path := writeOrg(t, DefaultYAML)
	const children = 4
	var cmds []*exec.Cmd
	for c := 0; c < children; c++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEditFileProcesses$", "-test.count=1")
		cmd.Env = append(os.Environ(), "EXLAB_EDIT_CHILD_FILE="+path, "EXLAB_EDIT_CHILD="+strconv.Itoa(c))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("child: %v", err)
		}
	}
	o, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(o.Mailboxes); got != 2+children*5 {
		t.Errorf("%d mailboxes, want %d: edits were lost", got, 2+children*5)
	}
}
