package smtpsend

import (
	"context"
	"errors"
	"fmt"
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
	var lastErr error
	var lastHost string
	for _, host := range d.Hosts {
		res, err := deliverTo(ctx, host, d)
		if err == nil {
			return res
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
	out := make([]RcptResult, len(d.Rcpts))
	for i := range out {
		out[i] = RcptResult{Code: code, Text: text, Host: lastHost}
	}
	return out
}

// deliverTo returns per-recipient results, or an error when the session failed before any
// recipient was decided (the caller fails over).
func deliverTo(ctx context.Context, host string, d Delivery) ([]RcptResult, error) {
	conn, err := (&net.Dialer{Timeout: d.Timeout}).DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout, c.SubmissionTimeout = d.Timeout, d.Timeout
	defer c.Close()
	if err := c.Hello(d.Helo); err != nil {
		return nil, err
	}
	if err := c.Mail(d.From, nil); err != nil {
		return nil, err
	}
	res := make([]RcptResult, len(d.Rcpts))
	accepted := 0
	for i, r := range d.Rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			var se *smtp.SMTPError
			if !errors.As(err, &se) {
				return nil, err
			}
			res[i] = RcptResult{Code: se.Code, Text: replyLine(se), Host: host}
			continue
		}
		res[i].Code = 250
		accepted++
	}
	if accepted == 0 {
		_ = c.Quit()
		return res, nil
	}
	w, err := c.Data()
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(d.Content); err != nil {
		return nil, err
	}
	resp, err := w.CloseWithResponse()
	final := RcptResult{Code: 250, Host: host}
	if err != nil {
		var se *smtp.SMTPError
		if !errors.As(err, &se) {
			return nil, err
		}
		final = RcptResult{Code: se.Code, Text: replyLine(se), Host: host}
	} else {
		final.Text = "250 " + resp.StatusText
	}
	for i := range res {
		if res[i].Code == 250 {
			res[i] = final
		}
	}
	_ = c.Quit()
	return res, nil
}

func replyLine(se *smtp.SMTPError) string {
	h := hubReply(se)
	return strconv.Itoa(h.Code) + " " + h.Text
}
