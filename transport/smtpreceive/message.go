// message.go holds the one end-of-message path that DATA and BDAT share: the hand-over to the
// Session, the EndOfData fault, the size, header and hop checks, the final reply and metrics.

package smtpreceive

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/exlab/exlab/config"
	"github.com/exlab/exlab/transport/smtpwire"
)

// messageSource is the reader of one message's data as the client sends it: DATA's dot reader
// or the BDAT chunk stream. It yields the body as the Session contract says (Session.Data).
type messageSource interface {
	io.Reader
	// finish consumes what the Session left unread of the transfer and says how it ended: the
	// octets received, whether they went over the size limit, and the error that broke the
	// transfer before its end (nil: the data is complete; *interruption: BDAT only, another
	// command came instead of the next chunk).
	finish() (size int64, tooLarge bool, err error)
}

// interruption ends a BDAT transfer when the client sends another command instead of the next
// chunk: the transaction is abandoned and the command is handled as the next one.
type interruption struct{ line string }

func (i *interruption) Error() string { return errInterrupted.Error() }

// receive is the one end-of-message path of DATA and BDAT: the data is handed to the Session
// (or dropped for an EndOfData fault) while the header scan watches MaxHeaderSize and
// MaxHopCount, the rest of the transfer is consumed, and the final reply is chosen and sent.
// While it runs, a shutdown lets the message finish (inBody).
func (c *conn) receive(ctx context.Context, src messageSource) {
	c.inBody.Store(true)
	body := newBodyReader(src, c.rc)
	start := time.Now()
	r, eod := c.handOver(ctx, body)
	c.transferred(body, start)
	size, tooLarge, err := src.finish()
	c.inBody.Store(false)
	intr, interrupted := err.(*interruption) // finish returns it unwrapped
	switch {
	case interrupted:
		c.resetTransaction()
		if parseCommand(intr.line).Verb == "DATA" {
			// DATA in the middle of a BDAT transfer (RFC 3030 §3).
			c.fail("X04")
			return
		}
		c.handle(intr.line)
		return
	case err != nil:
		// The client went away or timed out inside the data: nothing was acknowledged.
		c.readFailed(err)
		c.closed = true
		c.resetTransaction()
		return
	}
	c.finishMessage(r, tooLarge, body, eod, size)
}

// finishMessage sends a message's final reply: the engine's own for a message too large
// (R51), a header too large (X09) or too many hops (R52), else the session's; an EndOfData
// fault has the last word.
func (c *conn) finishMessage(r *smtpwire.Reply, tooLarge bool, body *bodyReader, eod *faultRule, size int64) {
	switch {
	case tooLarge:
		r = smtpwire.Fixed("R51")
	case body.hdrTooLarge:
		r = smtpwire.Fixed("X09")
	case body.hopExceeded:
		r = smtpwire.Fixed("R52")
	}
	if c.finishFault(eod, &r) {
		return
	}
	r = ReplyOrFail(r)
	c.endMessage(r.Code())
	c.resetTransaction()
	c.accepted(r, size)
}

// handOver gives the message to the Session, unless an EndOfData fault answers for it: then
// the message is read to its end and dropped, never handed on (a fault reply must not be
// followed by a delivery). A Bandwidth fault has already slowed the rest of the transfer
// (atStep).
func (c *conn) handOver(ctx context.Context, body io.Reader) (*smtpwire.Reply, *faultRule) {
	eod, _ := c.atStep(config.StepEndOfData, c.from, "")
	if eod != nil && (eod.Action == config.FaultReply || eod.Action == config.FaultDisconnect) {
		_, _ = io.Copy(io.Discard, body)
		return nil, eod
	}
	return c.sess.Data(ctx, body), eod
}

// finishFault carries out an EndOfData fault once the data is in: the injected reply replaces
// the final reply, a delay holds it back, a disconnect ends the session without one (true:
// the caller does nothing more).
func (c *conn) finishFault(eod *faultRule, r **smtpwire.Reply) bool {
	if eod == nil {
		return false
	}
	switch eod.Action {
	case config.FaultReply:
		*r = eod.reply
		if eod.reply.Code() == 421 {
			c.closed = true
		}
	case config.FaultDisconnect:
		c.endMessage(0)
		c.resetTransaction()
		c.apply(eod)
		return true
	default:
		c.apply(eod)
	}
	return false
}

// accepted sends the final reply of a message and counts it when it is a 250.
func (c *conn) accepted(r *smtpwire.Reply, size int64) {
	c.reply(r)
	if m := c.srv.Metrics; m != nil && strings.HasPrefix(r.Text, "250") {
		m.accepted(c.rc, size)
	}
}

// transferred records the transfer phase: from the start of the data to its last byte.
func (c *conn) transferred(b *bodyReader, start time.Time) {
	if m := c.srv.Metrics; m != nil && !b.eof.IsZero() {
		m.Phase(c.rc, "transfer", b.eof.Sub(start))
	}
}

// ReplyOrFail guards against a nil final reply from a Session.
func ReplyOrFail(r *smtpwire.Reply) *smtpwire.Reply {
	if r == nil {
		return smtpwire.Fixed("X01")
	}
	return r
}
