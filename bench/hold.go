package bench

import (
	"bufio"
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// HoldOptions describe an idle-session load: Sessions connections opened and held open (banner
// read, nothing sent) for Duration, while a fresh session is timed every ProbeEvery.
type HoldOptions struct {
	Target     string
	Sessions   int
	Duration   time.Duration
	ProbeEvery time.Duration
	Timeout    time.Duration
	// Ready, when set, is called once every session is open (to read the server's memory).
	Ready func(opened int)
}

// HoldResult is what a hold measured.
type HoldResult struct {
	Opened  int64
	Failed  int64
	Refused int64 // sessions answered with anything but 220
	Open    Percentiles
	Probe   Percentiles // connect to banner of sessions opened while the others are held
}

// Hold opens and holds idle sessions (the scale test of issue 3: many idle clients must not
// slow down new ones).
func Hold(ctx context.Context, o HoldOptions) (*HoldResult, error) {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.ProbeEvery == 0 {
		o.ProbeEvery = 100 * time.Millisecond
	}
	res := &HoldResult{}
	var mu sync.Mutex
	var conns []net.Conn
	var openLat []time.Duration
	var opened, failed, refused atomic.Int64
	sem := make(chan struct{}, 200) // open in parallel, but not all at once
	var wg sync.WaitGroup
	for i := 0; i < o.Sessions; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t0 := time.Now()
			c, ok, err := banner(ctx, o.Target, o.Timeout)
			if err != nil {
				failed.Add(1)
				return
			}
			if !ok {
				refused.Add(1)
				c.Close()
				return
			}
			opened.Add(1)
			mu.Lock()
			conns = append(conns, c)
			openLat = append(openLat, time.Since(t0))
			mu.Unlock()
		}()
	}
	wg.Wait()
	if o.Ready != nil {
		o.Ready(int(opened.Load()))
	}
	var probes []time.Duration
	deadline := time.Now().Add(o.Duration)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		t0 := time.Now()
		c, ok, err := banner(ctx, o.Target, o.Timeout)
		if err == nil {
			if ok {
				probes = append(probes, time.Since(t0))
			}
			c.Close()
		}
		time.Sleep(o.ProbeEvery)
	}
	for _, c := range conns {
		c.Close()
	}
	res.Opened, res.Failed, res.Refused = opened.Load(), failed.Load(), refused.Load()
	res.Open, res.Probe = percentiles(openLat), percentiles(probes)
	return res, nil
}

// banner connects and reads the greeting; ok says it was a 220.
func banner(ctx context.Context, target string, timeout time.Duration) (net.Conn, bool, error) {
	c, err := (&net.Dialer{Timeout: timeout}).DialContext(ctx, "tcp", target)
	if err != nil {
		return nil, false, err
	}
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReaderSize(c, 512).ReadString('\n')
	if err != nil {
		c.Close()
		return nil, false, err
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, len(line) > 3 && line[:4] == "220 ", nil
}
