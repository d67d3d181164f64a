package smtpsend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/emersion/go-smtp"
)

// Delivery is one message sent through a send connector to its smart hosts.
type Delivery struct {
	Hosts   []string // host:port, tried in order (failover)
	Helo    string
	From    string
	Rcpts   []string
	Content []byte
	Timeout time.Duration
}

// RcptResult is what the next hop answered for one recipient.
type RcptResult struct {
	Code int
	Text string // the reply as a line ("550 5.1.1 User unknown"), or the SmtpSend error text
	Host string // the endpoint that answered, ip:port
}

// Deliver sends d with go-smtp's client. Connection failures fail over to the next host; when
// every host fails, each recipient gets Exchange's SmtpSend texts (R70 for a host that
// answered with an error, R71 for one that could not be reached) with a 4xx code.
func Deliver(ctx context.Context, d Delivery) []RcptResult {
	out := make([]RcptResult, len(d.Rcpts))
	nh, fail := OpenNextHop(ctx, d.Hosts, d.Helo, d.From, d.Timeout)
	if nh == nil {
		for i := range out {
			out[i] = fail
		}
		return out
	}
	defer nh.Close()
	accepted := 0
	for i, r := range d.Rcpts {
		if out[i] = nh.Rcpt(r); out[i].Code/100 == 2 {
			accepted++
		}
	}
	if accepted == 0 {
		return out
	}
	final := nh.Data(bytes.NewReader(d.Content))
	for i := range out {
		if out[i].Code/100 == 2 {
			out[i] = final
		}
	}
	return out
}

// NextHop is one session to a next hop (a smart host), driven command by command: the hub's
// send connectors use it through Deliver, and the Outbound Proxy Frontend uses it to relay a
// hub's transaction while passing each reply back.
type NextHop struct {
	c    *smtp.Client
	host string
}

// OpenNextHop connects to the first host that answers and starts the transaction with MAIL
// FROM; connection and greeting failures fail over to the next host. When no host takes the
// transaction it returns nil and the failure for every recipient in Exchange's SmtpSend form.
func OpenNextHop(ctx context.Context, hosts []string, helo, from string, timeout time.Duration) (*NextHop, RcptResult) {
	var lastErr error = errors.New("no smart host")
	var lastHost string
	for _, host := range hosts {
		nh, err := openNextHop(ctx, host, helo, from, timeout)
		if err == nil {
			return nh, RcptResult{}
		}
		var se *smtp.SMTPError
		if errors.As(err, &se) && se.Code/100 == 5 {
			// A next hop that refuses the sender refuses the message: no failover for that.
			return nil, RcptResult{Code: se.Code, Text: replyLine(se), Host: host}
		}
		lastErr, lastHost = err, host
	}
	var text string
	var se *smtp.SMTPError
	if errors.As(lastErr, &se) {
		text = fmt.Sprintf("451 4.4.0 Primary target IP address responded with: \"%s.\" Attempted failover to alternate host, but that did not succeed. "+
			"Either there are no alternate hosts, or delivery failed to all alternate hosts. The last endpoint attempted was %s", replyLine(se), lastHost)
	} else {
		text = fmt.Sprintf("441 4.4.1 Error encountered while communicating with primary target IP address: \"Failed to connect. Winsock error code: 10061, "+
			"Win32 error code: 10061.\" Attempted failover to alternate host, but that did not succeed. Either there are no alternate hosts, or delivery "+
			"failed to all alternate hosts. The last endpoint attempted was %s", lastHost)
	}
	code, _ := strconv.Atoi(text[:3])
	return nil, RcptResult{Code: code, Text: text, Host: lastHost}
}

func openNextHop(ctx context.Context, host, helo, from string, timeout time.Duration) (*NextHop, error) {
	conn, err := (&net.Dialer{Timeout: timeout}).DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout, c.SubmissionTimeout = timeout, timeout
	if err := c.Hello(helo); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.Mail(from, nil); err != nil {
		c.Close()
		return nil, err
	}
	return &NextHop{c: c, host: host}, nil
}

// Rcpt sends one RCPT and returns the next hop's reply to it.
func (nh *NextHop) Rcpt(to string) RcptResult {
	if err := nh.c.Rcpt(to, nil); err != nil {
		return nh.failure(err)
	}
	return RcptResult{Code: 250, Text: "250 2.1.5 Recipient OK", Host: nh.host}
}

// Data sends the message and returns the next hop's final reply.
func (nh *NextHop) Data(r interface {
	WriteTo(w io.Writer) (int64, error)
}) RcptResult {
	w, err := nh.c.Data()
	if err != nil {
		return nh.failure(err)
	}
	if _, err := r.WriteTo(w); err != nil {
		return nh.failure(err)
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return nh.failure(err)
	}
	return RcptResult{Code: 250, Text: "250 " + resp.StatusText, Host: nh.host}
}

// failure is a refusal as the next hop's reply line, or a broken session as a transient
// SmtpSend error.
func (nh *NextHop) failure(err error) RcptResult {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return RcptResult{Code: se.Code, Text: replyLine(se), Host: nh.host}
	}
	return RcptResult{Code: 451, Text: "451 4.4.0 Error encountered while communicating with primary target IP address: \"" + err.Error() +
		".\" The last endpoint attempted was " + nh.host, Host: nh.host}
}

// Close ends the session with QUIT.
func (nh *NextHop) Close() {
	_ = nh.c.Quit()
	_ = nh.c.Close()
}

func replyLine(se *smtp.SMTPError) string {
	h := hubReply(se)
	return strconv.Itoa(h.Code) + " " + h.Text
}
