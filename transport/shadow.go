package transport

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/queue"
	"github.com/exlab/exlab/routing"
	"github.com/exlab/exlab/transport/smtpreceive"
	"github.com/exlab/exlab/transport/smtpsend"
	"github.com/exlab/exlab/transport/smtpwire"
)

// Shadow redundancy (spec §8.4, MS-SR). With more than one hub in the organization, the hub
// that accepts a message (the primary) makes a redundant copy on another hub (the shadow
// server) before it acknowledges the message: over an X-EXPS session to the other hub's
// Default <SERVER>, a transaction opened with XSHADOWREQUEST, which the shadow server writes
// into its shadow store (queue/shadow.go, synced) instead of its delivery queues and answers
// with R50 "Queued mail for redundancy". The primary logs HAREDIRECT with that reply as the
// source-context; the shadow server logs HARECEIVE. Every ShadowHeartbeatFrequency the shadow
// server asks each primary it holds copies for which of them were delivered (XQDISCARD) and
// discards those (HADISCARD). When a primary has not answered for ShadowResubmitTimeSpan, the
// shadow server resubmits its copies into its own submission queue (RESUBMIT, source
// REDUNDANCY), with a Received: line "with ShadowRedundancy" (the header of a resubmitted
// message quoted in viktgin.com's "Troubleshooting message delivery and shadow redundancy",
// 2023). A primary that comes back delivers its own copy as well: a duplicate, never a loss.
//
// What exlab keeps simpler than Exchange: a message whose recipients were all delivered into
// this server's mailboxes before the 250 needs no shadow (it is delivered); the discard list
// of the primary is held in memory, so copies of messages delivered just before a primary's
// crash stay on the shadow server until ShadowMessageAutoDiscardInterval. A one-hub
// organization never takes any of these paths (shadowWanted).

// shadowState is both sides of a hub's shadow redundancy.
type shadowState struct {
	mu sync.Mutex
	// peers are the sessions to other hubs' Default <SERVER>, by server name (upper case):
	// shadow copies out, XQDISCARD to primaries.
	peers map[string]*smtpsend.Proxy
	// discards are, by shadow server (upper case), the Network-Message-Ids of messages this
	// hub delivered whose shadow copies that server may discard.
	discards map[string][]string
	// lastHeard is when each primary (lower case) last answered XQDISCARD, or when this hub
	// first found it silent.
	lastHeard map[string]time.Time
	stop      chan struct{}
	done      chan struct{}
}

// maxDiscardsPerReply bounds one XQDISCARD reply; the rest goes with the next heartbeat.
// maxDiscardsHeld bounds what waits for one shadow server.
const (
	maxDiscardsPerReply = 1000
	maxDiscardsHeld     = 200000
)

// shadowWanted says whether messages get shadow copies: shadow redundancy enabled and another
// hub in the organization.
func (h *Hub) shadowWanted() bool {
	st := h.state.Load()
	return st.hubs > 1 && st.org.TransportConfig.ShadowRedundancyEnabled
}

// shadowCandidates are the other hubs a shadow copy may go to, in the order
// ShadowMessagePreferenceSetting asks for (PreferRemote: other sites first), at most
// MaxRetriesForLocalSiteShadow+1 of the local site.
func shadowCandidates(org *config.Organization, self *config.Server) []*config.Server {
	var local, remote []*config.Server
	for _, s := range org.Hubs("") {
		switch {
		case strings.EqualFold(s.Name, self.Name):
		case strings.EqualFold(s.Site, self.Site):
			local = append(local, s)
		default:
			remote = append(remote, s)
		}
	}
	if n := org.TransportConfig.MaxRetriesForLocalSiteShadow + 1; len(local) > n {
		local = local[:n]
	}
	switch org.TransportConfig.ShadowMessagePreferenceSetting {
	case config.ShadowLocalOnly:
		return local
	case config.ShadowRemoteOnly:
		return remote
	default:
		return append(remote, local...)
	}
}

// peer is the pooled client to server's Default <SERVER> connector.
func (h *Hub) peer(server string) *smtpsend.Proxy {
	key := strings.ToUpper(server)
	sh := &h.shadow
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if p := sh.peers[key]; p != nil {
		return p
	}
	srv := h.opt.Server
	p := &smtpsend.Proxy{
		Addr: func() string { return h.state.Load().org.PeerConnectorAddress(key, "Default ") },
		LocalIP: func() netip.Addr {
			st := h.state.Load()
			return st.org.SourceIP(st.srv)
		},
		HeloName: srv.Fqdn, AuthKey: h.opt.AuthKey,
		ConnectTimeout: srv.ProxyConnectTimeout.Duration(), CommandTimeout: srv.ProxyCommandTimeout.Duration(),
		PoolSize: max(srv.ProxyPoolSize, 1), IdleTimeout: time.Minute, MaxAge: mbxMaxAge,
	}
	if srv.IntraOrgConnectorProtocolLoggingLevel == config.LoggingVerbose && h.opt.SendProtocolLog != nil {
		p.ProtocolLog = h.opt.SendProtocolLog.Writer()
	}
	if sh.peers == nil {
		sh.peers = map[string]*smtpsend.Proxy{}
	}
	sh.peers[key] = p
	return p
}

// makeShadow sends m's shadow copy to the first candidate hub that takes it, records which one
// in m.Shadow and logs HAREDIRECT; with none it logs HAREDIRECTFAIL and reports false.
func (h *Hub) makeShadow(ctx context.Context, m *queue.Message, body []byte) bool {
	st := h.state.Load()
	env := &smtpsend.Envelope{Shadow: st.srv.Fqdn + " " + m.NetworkMessageID, From: m.From,
		Mail: smtp.MailOptions{Body: smtp.BodyType(m.Body), UTF8: m.SMTPUTF8}}
	var rcpts []string
	for _, r := range m.Recipients {
		if r.Status == queue.StatusPending || r.Status == queue.StatusUnreachable {
			env.Recipients = append(env.Recipients, smtpsend.Recipient{Address: r.Address})
			rcpts = append(rcpts, r.Address)
		}
	}
	var last string
	for _, peer := range shadowCandidates(st.org, st.srv) {
		rep, err := h.sendShadow(ctx, peer.Name, env, m, body)
		if err != nil {
			last = err.Error()
			h.opt.Logger.Debug("shadow copy refused", "InternalMessageId", m.ID, "server", peer.Name, "err", err)
			continue
		}
		m.Shadow = peer.Name
		h.tracker.track(trackEvent{ID: "HAREDIRECT", Source: "SMTP", Msg: m, Recipients: rcpts,
			Context: peer.Fqdn + "=" + strconv.Itoa(rep.Code) + " " + rep.Text})
		return true
	}
	if last == "" {
		last = "no other hub"
	}
	h.tracker.track(trackEvent{ID: "HAREDIRECTFAIL", Source: "SMTP", Msg: m, Recipients: rcpts, Status: last})
	return false
}

func (h *Hub) sendShadow(ctx context.Context, server string, env *smtpsend.Envelope, m *queue.Message, body []byte) (*smtpsend.HubReply, error) {
	t, err := h.peer(server).Begin(ctx, env)
	if err != nil {
		return nil, err
	}
	end := min(max(m.HeaderEnd, 0), int64(len(body)))
	_, _ = t.WriteString(m.HeaderPrefix)
	_, _ = t.Write(body[:end])
	_, _ = t.WriteString(m.HeaderSuffix)
	_, _ = t.Write(body[end:])
	return t.End()
}

// shadowVerb answers XSHADOWREQUEST and XQDISCARD, which only Exchange servers
// (ms-Exch-SMTP-Accept-XShadow) may use; to anyone else the verbs do not exist (R84).
func (s *session) shadowVerb(verb, arg string) *smtpwire.Reply {
	if !s.rights.Has(routing.AcceptXShadow) {
		return smtpwire.Fixed("R84")
	}
	f := strings.Fields(arg)
	switch verb {
	case "XSHADOWREQUEST":
		if s.from != "" {
			return smtpwire.Fixed("X04")
		}
		if len(f) != 2 {
			return smtpwire.Fixed("R59")
		}
		primary := s.st.org.ServerByFqdn(f[0])
		if primary == nil {
			return smtpwire.Fixed("R59")
		}
		s.shadowOf, s.shadowID = primary.Name, f[1]
		return smtpwire.Fixed("X40")
	default: // XQDISCARD <shadow fqdn>
		if len(f) != 1 {
			return smtpwire.Fixed("R59")
		}
		shadow := s.st.org.ServerByFqdn(f[0])
		if shadow == nil {
			return smtpwire.Fixed("R59")
		}
		ids := s.h.takeDiscards(shadow.Name)
		var b strings.Builder
		for _, id := range ids {
			b.WriteString("250-")
			b.WriteString(id)
			b.WriteString("\r\n")
		}
		b.WriteString(smtpwire.Render("X41", "count", strconv.Itoa(len(ids))).Text)
		return &smtpwire.Reply{ID: "X41", Text: b.String()}
	}
}

// acceptShadow stores the transaction's message as a shadow copy of s.shadowOf and answers R50.
// The content came from the primary with its own Received: line and organization headers;
// the record keeps the primary's Network-Message-Id.
func (h *Hub) acceptShadow(s *session, m *queue.Message, body []byte, hi headerInfo) *smtpwire.Reply {
	m.NetworkMessageID = s.shadowID
	m.HeaderPrefix, m.HeaderSuffix = "", ""
	if m.MessageID == "" {
		m.MessageID = hi.messageID
	}
	if err := h.opt.Store.PutShadow(s.shadowOf, s.shadowID, m, body); err != nil {
		h.opt.Logger.Error("shadow copy not stored; answering 451 4.3.0", "primary", s.shadowOf, "err", err)
		return smtpwire.Fixed("X01")
	}
	h.tracker.track(trackEvent{ID: "HARECEIVE", Source: "SMTP", Msg: m, Recipients: recipientAddresses(m)})
	return smtpwire.Render("R50", "msgid", m.MessageID, "internalid", strconv.FormatUint(m.ID, 10), "fqdn", s.st.srv.Fqdn)
}

// shadowDone notes that m, which has a shadow copy, is finished here (delivered, failed,
// expired or removed): its shadow server may discard the copy at its next XQDISCARD.
func (h *Hub) shadowDone(m *queue.Message) {
	if m == nil || m.Shadow == "" || !m.Done() {
		return
	}
	key := strings.ToUpper(m.Shadow)
	h.shadow.mu.Lock()
	if h.shadow.discards == nil {
		h.shadow.discards = map[string][]string{}
	}
	ids := append(h.shadow.discards[key], m.NetworkMessageID)
	if len(ids) > maxDiscardsHeld {
		// A shadow server that stopped asking (gone from the organization): its oldest
		// discards go; its copies end with ShadowMessageAutoDiscardInterval anyway.
		ids = append([]string(nil), ids[len(ids)-maxDiscardsHeld/2:]...)
	}
	h.shadow.discards[key] = ids
	h.shadow.mu.Unlock()
}

// takeDiscards hands over (and forgets) up to maxDiscardsPerReply of shadow's discards.
func (h *Hub) takeDiscards(shadow string) []string {
	key := strings.ToUpper(shadow)
	h.shadow.mu.Lock()
	defer h.shadow.mu.Unlock()
	ids := h.shadow.discards[key]
	n := min(len(ids), maxDiscardsPerReply)
	out := append([]string(nil), ids[:n]...)
	h.shadow.discards[key] = ids[n:]
	return out
}

// runShadowHeartbeat is the shadow server's side: every ShadowHeartbeatFrequency, each primary
// it holds copies for is asked for its discards; one silent for ShadowResubmitTimeSpan gets
// its copies resubmitted here.
func (h *Hub) runShadowHeartbeat() {
	defer close(h.shadow.done)
	for {
		freq := h.state.Load().org.TransportConfig.ShadowHeartbeatFrequency.Duration()
		if freq <= 0 {
			freq = 2 * time.Minute
		}
		select {
		case <-h.shadow.stop:
			return
		case <-time.After(freq):
		}
		h.shadowHeartbeat(time.Now())
	}
}

// shadowHeartbeat makes one round over the primaries with copies here.
func (h *Hub) shadowHeartbeat(now time.Time) {
	byPrimary := map[string][]queue.Shadow{}
	var order []string
	_ = h.opt.Store.Shadows(func(sh queue.Shadow) bool {
		if byPrimary[sh.Primary] == nil {
			order = append(order, sh.Primary)
		}
		byPrimary[sh.Primary] = append(byPrimary[sh.Primary], sh)
		return true
	})
	tc := h.state.Load().org.TransportConfig
	for _, primary := range order {
		copies := byPrimary[primary]
		// Copies kept longer than ShadowMessageAutoDiscardInterval go, whatever the primary says.
		if d := tc.ShadowMessageAutoDiscardInterval.Duration(); d > 0 {
			var keep []queue.Shadow
			var old []string
			for _, c := range copies {
				if now.Sub(c.Message.Arrived) > d {
					old = append(old, c.NetworkMessageID)
					h.tracker.track(trackEvent{ID: "HADISCARD", Source: "REDUNDANCY", Msg: c.Message, Recipients: recipientAddresses(c.Message)})
				} else {
					keep = append(keep, c)
				}
			}
			_ = h.opt.Store.DeleteShadows(primary, old)
			copies = keep
		}
		if len(copies) == 0 {
			continue
		}
		if ids, err := h.askDiscards(primary); err == nil {
			h.shadow.mu.Lock()
			h.shadow.lastHeard[primary] = now
			h.shadow.mu.Unlock()
			h.discardShadows(primary, copies, ids)
			continue
		} else {
			h.opt.Logger.Debug("shadow heartbeat: the primary does not answer", "primary", primary, "err", err)
		}
		h.shadow.mu.Lock()
		heard, ok := h.shadow.lastHeard[primary]
		if !ok {
			heard = now
			h.shadow.lastHeard[primary] = now
		}
		h.shadow.mu.Unlock()
		if now.Sub(heard) >= tc.ShadowResubmitTimeSpan.Duration() {
			h.resubmitShadows(primary, copies, now.Sub(heard))
		}
	}
}

// askDiscards sends XQDISCARD to primary and returns the Network-Message-Ids it lists.
func (h *Hub) askDiscards(primary string) ([]string, error) {
	timeout := h.opt.Server.ProxyConnectTimeout.Duration() + h.opt.Server.ProxyCommandTimeout.Duration()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	rep, err := h.peer(primary).Command(ctx, "XQDISCARD "+h.state.Load().srv.Fqdn)
	if err != nil {
		return nil, err
	}
	if rep.Code != 250 {
		return nil, &smtpsend.Error{Step: "xqdiscard", Hub: rep}
	}
	lines := strings.Split(rep.Text, "\n")
	return lines[:len(lines)-1], nil // the last line is the count
}

// discardShadows drops the copies of primary that ids names (HADISCARD).
func (h *Hub) discardShadows(primary string, copies []queue.Shadow, ids []string) {
	if len(ids) == 0 {
		return
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[strings.TrimSpace(id)] = true
	}
	var gone []string
	for _, c := range copies {
		if want[c.NetworkMessageID] {
			gone = append(gone, c.NetworkMessageID)
			h.tracker.track(trackEvent{ID: "HADISCARD", Source: "REDUNDANCY", Msg: c.Message, Recipients: recipientAddresses(c.Message)})
		}
	}
	if err := h.opt.Store.DeleteShadows(primary, gone); err != nil {
		h.opt.Logger.Error("shadow copies not discarded", "primary", primary, "err", err)
	}
}

// resubmitShadows takes over the copies of a primary that has been gone for silent: each goes
// into this hub's submission queue as a new message (RESUBMIT), then leaves the shadow store.
func (h *Hub) resubmitShadows(primary string, copies []queue.Shadow, silent time.Duration) {
	h.opt.Logger.Warn("a primary server has not answered for longer than ShadowResubmitTimeSpan; resubmitting its shadow messages",
		"primary", primary, "silent", silent.Round(time.Second).String(), "messages", len(copies))
	st := h.state.Load()
	from := primary
	if p := st.org.Server(primary); p != nil {
		from = p.Fqdn
	}
	local := ""
	if a := st.org.SourceIP(st.srv); a.IsValid() {
		local = a.String()
	}
	for _, c := range copies {
		body, err := h.opt.Store.ShadowBody(primary, c.NetworkMessageID)
		if err != nil {
			h.opt.Logger.Error("shadow copy without content", "primary", primary, "NetworkMessageId", c.NetworkMessageID, "err", err)
			continue
		}
		m := c.Message
		m.Shadow = ""
		now := time.Now()
		m.HeaderPrefix = shadowReceived(from, m.ClientIP, st.srv.Fqdn, local, st.srv.Version, now)
		m.HeaderEnd = int64(scanHeaders(body).end)
		h.tracker.track(trackEvent{ID: "RESUBMIT", Source: "REDUNDANCY", Msg: m, Recipients: recipientAddresses(m)})
		if err := h.accept(context.Background(), m, body, nil, false); err != nil {
			h.opt.Logger.Error("shadow copy not resubmitted; kept for the next heartbeat", "InternalMessageId", m.ID, "err", err)
			continue
		}
		if err := h.opt.Store.DeleteShadows(primary, []string{c.NetworkMessageID}); err != nil {
			h.opt.Logger.Error("resubmitted shadow copy not removed", "InternalMessageId", m.ID, "err", err)
		}
	}
}

// shadowReceived is the Received: line of a resubmitted shadow copy.
func shadowReceived(from, ip, fqdn, localIP string, v config.ExchangeVersion, t time.Time) string {
	words := []string{"Received:", "from", from, "(" + ip + ")", "by", fqdn}
	if localIP != "" {
		words = append(words, "("+localIP+")")
	}
	words = append(words, "with", "ShadowRedundancy", "id", smtpreceive.BuildNumber(v)+";", smtpreceive.BannerDate(t))
	return smtpreceive.Fold(words) + "\r\n"
}

// startShadow starts the heartbeat; stopShadow ends it and closes the peers' sessions.
func (h *Hub) startShadow() {
	h.shadow.stop, h.shadow.done = make(chan struct{}), make(chan struct{})
	h.shadow.mu.Lock()
	h.shadow.lastHeard = map[string]time.Time{}
	h.shadow.mu.Unlock()
	go h.runShadowHeartbeat()
}

func (h *Hub) stopShadow() {
	if h.shadow.stop == nil {
		return
	}
	close(h.shadow.stop)
	<-h.shadow.done
	h.shadow.mu.Lock()
	peers := h.shadow.peers
	h.shadow.peers = nil
	h.shadow.mu.Unlock()
	for _, p := range peers {
		p.Close()
	}
}
