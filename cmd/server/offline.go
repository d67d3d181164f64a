package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/exlab/exlab/cmd/adminapi"
	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport"
)

// Offline is exlab shell's backend when no server runs on the data directory: the
// organization file itself (the --config file, the data directory's organization.yaml, or the
// embedded default, which a change then writes to organization.yaml) and the stopped queue
// database, read-only. Changes to the organization are validated and written as on a running
// server and take effect when it starts; what needs the running Transport service (Retry-Queue,
// Suspend-Message, the component state) says so.
type Offline struct {
	DataDir, ConfigPath, ServerName string
}

var errNeedsServer = errors.New("no running server answers for this data directory: this cmdlet needs the running Transport service (start exlab serve)")

// File is the organization file a change writes.
func (o *Offline) File() string { return o.path() }

// path is the organization file a change writes.
func (o *Offline) path() string {
	if o.ConfigPath != "" {
		return o.ConfigPath
	}
	return filepath.Join(o.DataDir, OrganizationFile)
}

func (o *Offline) Organization(context.Context) (adminapi.Organization, error) {
	src, file := config.DefaultYAML, ""
	if b, err := os.ReadFile(o.path()); err == nil {
		src, file = b, o.path()
	} else if o.ConfigPath != "" {
		return adminapi.Organization{}, err
	}
	return adminapi.Organization{File: file, Source: string(src), ETag: adminapi.OrgETag(src), Server: o.ServerName}, nil
}

func (o *Offline) SetOrganization(ctx context.Context, src []byte, etag string) (string, error) {
	cur, err := o.Organization(ctx)
	if err != nil {
		return "", err
	}
	if cur.ETag != etag {
		return "", &adminapi.Error{Code: adminapi.CodeConflict, Message: "the organization changed since it was read"}
	}
	if _, err := config.Parse(o.path(), src); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(o.path()), 0o700); err != nil {
		return "", err
	}
	if err := config.WriteFile(o.path(), src); err != nil {
		return "", err
	}
	return adminapi.OrgETag(src), nil
}

func (o *Offline) Queues() ([]transport.QueueInfo, error) {
	qs, _, err := StoredQueues(o.DataDir, o.cfg(), o.ServerName, "")
	return qs, err
}

func (o *Offline) Messages(queueID string) ([]transport.MessageInfo, error) {
	_, ms, err := StoredQueues(o.DataDir, o.cfg(), o.ServerName, queueID)
	return ms, err
}

// cfg is the organization file the stored queues are read against ("": the embedded default).
func (o *Offline) cfg() string {
	if _, err := os.Stat(o.path()); err == nil {
		return o.path()
	}
	return o.ConfigPath
}

func (o *Offline) RetryQueue(string, transport.RetryMode) (int, error) { return 0, errNeedsServer }

func (o *Offline) MessageAction(string, string, transport.NDRChoice) error { return errNeedsServer }

func (o *Offline) SearchTracking(_ context.Context, q adminapi.TrackingQuery) ([]transport.TrackingEntry, error) {
	return transport.SearchTracking(filepath.Join(o.DataDir, TrackingDir), q.Sender, q.Recipient, q.EventID, q.MessageID, q.Start, q.End)
}

func (o *Offline) Maintenance() (adminapi.ComponentState, error) {
	return adminapi.ComponentState{}, errNeedsServer
}

func (o *Offline) SetMaintenance(bool) (adminapi.ComponentState, error) {
	return adminapi.ComponentState{}, errNeedsServer
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
