// Package emshell is the Exchange Management Shell of exlab: the transport cmdlets an Exchange
// admin types (Get-/New-/Set-/Remove-ReceiveConnector, …-AcceptedDomain, Get-Queue, Get-Message,
// Get-MessageTrackingLog, Get-/Set-ServerComponentState, Get-ExchangeServer …), registered on
// cmd/shell's PowerShell engine and run against a server through its admin API, the way
// Exchange's cmdlets run against Active Directory and the Transport service.
//
// Reads take the organization file the server runs on (GET /api/v1/organization) and parse it
// with config.Parse, so Get- shows exactly what the server uses. A Set-/New-/Remove- edits that
// file with config.EditBytes (comments and order kept, only the touched lines change), and
// writes it back with PUT /api/v1/organization, which validates it (a change that fails
// validation changes nothing and comes back as Exchange's error), writes it atomically with a
// .bak, and applies it to the running services; the next Get- shows the new value. Queue and
// message cmdlets use the same client's queue endpoints. The package owns the presentation of
// Exchange's objects (their properties, default views and errors); the grammar is cmd/shell's.
package emshell

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/exlab/exlab/cmd/adminapi"
	"github.com/exlab/exlab/cmd/shell"
	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport"
)

// Backend is what the cmdlets need of a server: *adminapi.Client is one.
type Backend interface {
	Organization(ctx context.Context) (adminapi.Organization, error)
	SetOrganization(ctx context.Context, src []byte, etag string) (string, error)
	Queues() ([]transport.QueueInfo, error)
	Messages(queueID string) ([]transport.MessageInfo, error)
	RetryQueue(identity string, mode transport.RetryMode) (int, error)
	MessageAction(action, identity string, ndr transport.NDRChoice) error
	SearchTracking(ctx context.Context, q adminapi.TrackingQuery) ([]transport.TrackingEntry, error)
	Maintenance() (adminapi.ComponentState, error)
	SetMaintenance(on bool) (adminapi.ComponentState, error)
}

// Shell is one session: an engine with the cmdlets registered, bound to one server.
type Shell struct {
	*shell.Engine
	b          Backend
	serverName string // the server the backend runs as
	portOffset int
}

// New returns a session against b. The engine's ComputerName is the server's FQDN (read from
// the organization when the first cmdlet runs), as a remote Exchange session names it.
func New(b Backend) *Shell {
	s := &Shell{Engine: shell.New(), b: b}
	if org, src, err := s.org(context.Background()); err == nil {
		s.serverName, s.portOffset = src.Server, src.PortOffset
		if srv := s.server(org); srv != nil {
			s.ComputerName = strings.ToLower(srv.Fqdn)
		}
	}
	for _, c := range s.cmdlets() {
		s.Register(c)
	}
	return s
}

func (s *Shell) cmdlets() []*shell.Cmdlet {
	var out []*shell.Cmdlet
	out = append(out, s.receiveConnectorCmdlets()...)
	out = append(out, s.acceptedDomainCmdlets()...)
	out = append(out, s.queueCmdlets()...)
	out = append(out, s.serverCmdlets()...)
	out = append(out, s.connectivityCmdlet(), s.winEventCmdlet(), s.certificateCmdlet())
	out = append(out, s.certificateChangeCmdlets()...)
	out = append(out, s.sendConnectorCmdlets()...)
	out = append(out, s.mailboxCmdlets()...)
	out = append(out, s.adPermissionCmdlets()...)
	out = append(out, s.transportServiceCmdlets()...)
	out = append(out, s.queueDigestCmdlet())
	return out
}

// org reads and parses the organization the server runs on.
func (s *Shell) org(ctx context.Context) (*config.Organization, adminapi.Organization, error) {
	src, err := s.b.Organization(ctx)
	if err != nil {
		return nil, src, err
	}
	name := src.File
	if name == "" {
		name = config.DefaultFileName
	}
	org, err := config.Parse(name, []byte(src.Source))
	return org, src, err
}

// server is the server this session talks to: the one the backend runs as, else the
// organization's first (exlab serve's default).
func (s *Shell) server(org *config.Organization) *config.Server {
	if srv := org.Server(s.serverName); srv != nil {
		return srv
	}
	if len(org.Servers) == 0 {
		return nil
	}
	return &org.Servers[0]
}

// edit changes the organization: edit runs on the file's document, the result goes back to
// the server, which validates, writes and applies it. A refusal is Exchange's error for it.
func (s *Shell) edit(c *shell.Call, edit func(*config.Document) error) error {
	src, err := s.b.Organization(c.Ctx)
	if err != nil {
		return s.failure(c, err)
	}
	name := src.File
	if name == "" {
		name = config.DefaultFileName
	}
	out, _, err := config.EditBytes(name, []byte(src.Source), edit)
	if err != nil {
		return s.invalid(c, err)
	}
	if _, err := s.b.SetOrganization(c.Ctx, out, src.ETag); err != nil {
		return s.invalid(c, err)
	}
	return nil
}

// notFound is ManagementObjectNotFoundException, as Exchange words it (the object is looked
// up on a domain controller; exlab's directory is the server).
func (s *Shell) notFound(c *shell.Call, identity string) *shell.ErrorRecord {
	rec := shell.NewError(shell.NotSpecified, "ManagementObjectNotFoundException", "",
		"The operation couldn't be performed because object '%s' couldn't be found on '%s'.", identity, s.ComputerName)
	rec.ErrorID = s.errorID(c, rec.Reason, "6A5B3A1E")
	return rec
}

// invalid is a refused change: Exchange's own exception text when the validation gives one
// (ReceiveConnectorRoleConflictException, the unique-binding rule), else a
// DataValidationException naming the field.
func (s *Shell) invalid(c *shell.Call, err error) *shell.ErrorRecord {
	msg := err.Error()
	var ps config.Problems
	reason, cat := "DataValidationException", shell.Category("NotSpecified")
	if pe, ok := err.(*adminapi.Error); ok {
		msg = pe.Message
	} else if errorsAs(err, &ps) && len(ps) > 0 {
		msg = ps[0].Message
		if len(ps) > 0 && ps[0].Field != "" && !strings.Contains(msg, "Exception:") {
			msg = ps[0].Field + ": " + msg
		}
	}
	const roleEx = "Microsoft.Exchange.Management.SystemConfigurationTasks.ReceiveConnectorRoleConflictException: "
	if i := strings.Index(msg, roleEx); i >= 0 {
		msg, reason, cat = msg[i+len(roleEx):], "ReceiveConnectorRoleConflictException", shell.InvalidOperation
	} else if strings.Contains(msg, "A Receive connector must have a unique combination") {
		if i := strings.Index(msg, "The values that you specified"); i >= 0 {
			msg = msg[i:]
		}
		reason, cat = "ReceiveConnectorBindingConflictException", shell.InvalidOperation
	} else if i := strings.LastIndex(msg, ": "); i >= 0 && strings.Contains(msg, ".yaml:") {
		// FILE:LINE: field: problem — the admin typed a parameter, not a file.
		if j := strings.Index(msg, ": "); j >= 0 {
			msg = msg[j+2:]
		}
	}
	rec := shell.NewError(cat, reason, "", "%s", msg)
	rec.ErrorID = s.errorID(c, reason, "F7A9E8C1")
	return rec
}

// failure is an error reaching the server.
func (s *Shell) failure(c *shell.Call, err error) *shell.ErrorRecord {
	rec := shell.NewError(shell.NotSpecified, "ServerUnavailableException", "", "%v", err)
	rec.ErrorID = s.errorID(c, rec.Reason, "2D4C0B17")
	return rec
}

func (s *Shell) errorID(c *shell.Call, reason, hash string) string {
	server := strings.ToUpper(strings.Split(s.ComputerName, ".")[0])
	var g [16]byte
	_, _ = rand.Read(g[:])
	id := fmt.Sprintf("%x-%x-%x-%x-%x", g[0:4], g[4:6], g[6:8], g[8:10], g[10:])
	return shell.RemoteErrorID(server, id, time.Now(), reason, hash)
}
