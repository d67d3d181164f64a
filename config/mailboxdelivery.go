package config

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"strings"
)

// The Mailbox Transport Delivery service's receive connectors. Exchange 2013+ creates them
// with the server and hides them: they are in no Get-ReceiveConnector output, cannot be
// changed and are not in the configuration file (spec §1: "Mailbox delivery Receive
// connector", port 475, ExchangeServer auth, ExchangeServers group). Their identity,
// SERVER\Default Mailbox Delivery SERVER on TCP 475, is the one Granikos' Exchange 2016/2019
// port diagram names (https://www.granikos.eu/en/justcantgetenough/PostId/250/exchange-2016-mail-flow-with-ports).
//
// A 2019 server also answers on 476 and 477 with the same banner and the same 503 5.5.1 to a
// command before EHLO (spec §13.20, SANS SEC560 masscan). Which service owns them is not public
// (Microsoft's network port reference lists none of the three); exlab [I] serves them with the
// same engine as connectors that grant no permission, so they take no mail.

// MailboxDeliveryPort and MailboxTransportPorts are the ports of the implicit connectors.
const MailboxDeliveryPort = 475

// MailboxTransportPorts are the three Mailbox Transport ports in order.
var MailboxTransportPorts = []int{475, 476, 477}

// MailboxDeliveryConnectorName is the name of srv's Mailbox Delivery receive connector.
func MailboxDeliveryConnectorName(srv string) string { return "Default Mailbox Delivery " + srv }

// MailboxDeliveryConnectors returns srv's implicit Mailbox Transport receive connectors: Default
// Mailbox Delivery <SERVER> on 475 first, then the connectors of 476 and 477 [I]. They get
// the receive connector defaults and what a hub-to-hub connector needs: no per-source limit
// (every session comes from the hubs), the hub's hop and size limits. They listen on the
// addresses of the server's Default <SERVER> connector (Exchange binds both to every address);
// when that one listens on an ephemeral port (port 0, a lab or a test), so do they. They take
// its TarpitInterval and AuthTarpitInterval too.
func (o *Organization) MailboxDeliveryConnectors(srv *Server) []*ReceiveConnector {
	addrs := []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}
	ephemeral := false
	hubs := o.ConnectorsOf(srv.Name, HubTransport)
	for _, rc := range hubs {
		if rc.Name == "Default "+srv.Name && len(rc.Bindings) > 0 {
			hubs = []*ReceiveConnector{rc}
			break
		}
	}
	var hub *ReceiveConnector
	if len(hubs) > 0 {
		hub = hubs[0]
	}
	if hub != nil && len(hub.Bindings) > 0 {
		addrs = addrs[:0]
		for _, b := range hub.Bindings {
			addrs = append(addrs, b.Addr)
			ephemeral = ephemeral || b.Port == 0
		}
	}
	var out []*ReceiveConnector
	for _, port := range MailboxTransportPorts {
		rc := &ReceiveConnector{}
		rc.setDefaults()
		rc.Name = MailboxDeliveryConnectorName(srv.Name)
		if port != MailboxDeliveryPort {
			rc.Name = fmt.Sprintf("Mailbox Transport %d %s", port, srv.Name) // [I] no public name
		}
		rc.Server, rc.TransportRole, rc.Enabled, rc.Fqdn = srv.Name, MailboxDelivery, true, srv.Fqdn
		for _, a := range addrs {
			b := Binding{Addr: a, Port: port}
			if ephemeral {
				b.Port = 0
			}
			rc.Bindings = append(rc.Bindings, b)
		}
		rc.RemoteIPRanges = AllRemoteIPRanges()
		rc.AuthMechanism = []AuthMechanism{AuthTls, AuthExchangeServer}
		if port == MailboxDeliveryPort {
			rc.PermissionGroups = []PermissionGroup{ExchangeServers}
		}
		rc.SizeEnabled = SizeEnabledWithoutValue
		rc.MaxRecipientsPerMessage = 5000
		rc.MaxInboundConnectionPerSource = Unlimited
		rc.MaxInboundConnectionPercentagePerSource = 100
		rc.ProtocolLoggingLevel = srv.MailboxDeliveryConnectorProtocolLoggingLevel
		if hub != nil {
			// The tarpits of the server's hub connector [I: Exchange's values for the hidden
			// connector are not public; a lab that turns the hub's off gets them off here too].
			rc.TarpitInterval, rc.AuthTarpitInterval = hub.TarpitInterval, hub.AuthTarpitInterval
		}
		out = append(out, rc)
	}
	return out
}

// MailboxDatabaseName is srv's MailboxDatabase, or the name Setup gives the first database of
// a new Mailbox server, "Mailbox Database" and ten random digits (spec §8.1's example: Mailbox
// Database 0471695037); exlab derives the digits from the server name so that they stay the
// same from one run to the next.
func (srv *Server) MailboxDatabaseName() string {
	if srv.MailboxDatabase != "" {
		return srv.MailboxDatabase
	}
	h := fnv.New64a()
	h.Write([]byte(strings.ToUpper(srv.Name)))
	return fmt.Sprintf("Mailbox Database %010d", h.Sum64()%10_000_000_000)
}

// DatabaseServer is the server with the HubTransport role whose mailbox database is db, or nil.
func (o *Organization) DatabaseServer(db string) *Server {
	for i := range o.Servers {
		s := &o.Servers[i]
		if s.Runs(HubTransport) && strings.EqualFold(s.MailboxDatabaseName(), db) {
			return s
		}
	}
	return nil
}

// HomeServer is the server mb is homed on: the one whose database its Database names, or the
// first server with the HubTransport role when it names none (nil when there is no such server).
func (o *Organization) HomeServer(mb *Mailbox) *Server {
	if mb.Database != "" {
		if s := o.DatabaseServer(mb.Database); s != nil {
			return s
		}
	}
	for i := range o.Servers {
		if o.Servers[i].Runs(HubTransport) {
			return &o.Servers[i]
		}
	}
	return nil
}

// Hubs are the servers of site with the HubTransport role, in the file's order ("" for every site).
func (o *Organization) Hubs(site string) []*Server {
	var out []*Server
	for i := range o.Servers {
		s := &o.Servers[i]
		if s.Runs(HubTransport) && (site == "" || strings.EqualFold(s.Site, site)) {
			out = append(out, s)
		}
	}
	return out
}

// Runs says whether the server runs the service of role.
func (srv *Server) Runs(role TransportRole) bool { return slices.Contains(srv.Roles, role) }

// SourceIP is the address srv's services send from when they dial another server of the
// organization (a frontend's proxy hop, a hub's delivery to another server's mailbox
// database): its IPAddress when that is an IP, else the address of its first specific
// binding, so that the peer's protocol log, Received: header and RemoteIPRanges see the
// server where Exchange's would. The zero Addr (the system picks) when every binding is a
// wildcard, as on a machine or container of its own.
func (o *Organization) SourceIP(srv *Server) netip.Addr {
	if a, err := netip.ParseAddr(srv.IPAddress); err == nil {
		return a
	}
	for i := range o.ReceiveConnectors {
		rc := &o.ReceiveConnectors[i]
		if !strings.EqualFold(rc.Server, srv.Name) {
			continue
		}
		for _, b := range rc.Bindings {
			if b.Addr.IsValid() && !b.Addr.IsUnspecified() {
				return b.Addr
			}
		}
	}
	return netip.Addr{}
}
