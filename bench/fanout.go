package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/savvysolve/api/models"
)

const subChat = `subscription Chat($id: ID!, $after: ID) { sessionMessages(sessionId: $id, after: $after) {
  id sender body createdAt author { name } } }`

// fanPlan is one fan-out run.
type fanPlan struct {
	label       string // "websocket", "websocket (large)", "sse"
	tag         string // marks this run's message bodies (sessions keep earlier runs' messages)
	sse         bool
	subscribers int
	perSocket   int // subscriptions per websocket (1 unless the open-file limit forbids)
	srcNet      int // dial from 127.0.<srcNet>.x: every run its own source ports
}

// fanConn is one websocket (with perSocket subscriptions, ids "0", "1", ...)
// or one SSE stream (one subscription).
type fanConn struct {
	c      *websocket.Conn
	wmu    sync.Mutex // one writer at a time: the reader answers pings
	body   io.ReadCloser
	cancel context.CancelFunc
	subs   []*fanSub
	ended  atomic.Bool
}

// fanSub is one subscriber: a sessionMessages subscription.
type fanSub struct {
	session int
	ready   atomic.Bool // has received its session's probe message
	got     []int32     // message indexes received (its connection's reader only)
}

type wsMsg struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// receipt is one delivery of a measured message to one subscriber.
type receipt struct {
	idx int32
	at  time.Time
}

type fanState struct {
	tag      string
	mu       sync.Mutex
	receipts []receipt
	probes   atomic.Int64 // subscribers that got their probe
	ended    atomic.Int64 // connections that closed
	endKinds map[string]int
	dups     atomic.Int64
}

func (st *fanState) endedWith(err error) {
	st.ended.Add(1)
	kind := "read error"
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		kind = fmt.Sprintf("close %d %s", ce.Code, ce.Text)
	} else if err != nil && !errors.Is(err, io.EOF) {
		kind = "read error: " + err.Error()
		if len(kind) > 80 {
			kind = kind[:80]
		}
	}
	st.mu.Lock()
	st.endKinds[kind]++
	st.mu.Unlock()
}

// record handles one chat message received by sub.
func (st *fanState) record(sub *fanSub, body string, now time.Time) {
	f := strings.Fields(body)
	if len(f) < 2 || f[1] != st.tag {
		return // an earlier run's message, replayed
	}
	switch f[0] {
	case "bench-probe":
		if !sub.ready.Swap(true) {
			st.probes.Add(1)
		}
	case "bench-fanout":
		if len(f) < 3 {
			return
		}
		idx, err := strconv.Atoi(f[2])
		if err != nil {
			return
		}
		if slices.Contains(sub.got, int32(idx)) {
			st.dups.Add(1)
			return
		}
		sub.got = append(sub.got, int32(idx))
		st.mu.Lock()
		st.receipts = append(st.receipts, receipt{idx: int32(idx), at: now})
		st.mu.Unlock()
	}
}

// fanouts runs the fan-out plans, each on a fresh server process (so that
// memory is measured from a clean start): websockets at -subscribers (the
// memory measure), websockets at -fanout-large, and SSE at -fanout-sse.
func (b *bench) fanouts(ctx context.Context) error {
	c := b.cfg
	limit := fileLimit()
	maxConns := max(1000, int(limit)-2000) // each process needs a descriptor per connection, and some of its own
	var plans []fanPlan
	if c.subscribers > 0 {
		plans = append(plans, fanPlan{label: "websocket", tag: "ws", subscribers: c.subscribers, perSocket: 1, srcNet: 11})
	}
	if c.fanLarge > 0 {
		per := (c.fanLarge + maxConns - 1) / maxConns
		plans = append(plans, fanPlan{label: "websocket (large)", tag: "wslarge", subscribers: c.fanLarge, perSocket: per, srcNet: 12})
	}
	if c.fanSSE > 0 {
		plans = append(plans, fanPlan{label: "sse", tag: "sse", sse: true, subscribers: min(c.fanSSE, maxConns), perSocket: 1, srcNet: 13})
	}
	for _, p := range plans {
		if err := b.useServer(ctx, "fanout-"+p.tag); err != nil {
			return err
		}
		f, err := b.fanout(ctx, p)
		if err != nil {
			return err
		}
		f.FileLimit = limit
		b.res.Fanouts = append(b.res.Fanouts, f)
		if p.tag == "ws" {
			b.res.Fanout = f
		}
	}
	return nil
}

// fanout connects the subscribers (each with the token of its session's
// solver, or the admin's on a socket that follows several sessions, resuming
// after the session's last message as a client that has just loaded the
// chat does), proves every subscription is live with one probe message per
// session, then sends messages at a fixed rate and measures, per delivery,
// the time from the start of sendMessage to receipt.
func (b *bench) fanout(ctx context.Context, p fanPlan) (*fanoutResult, error) {
	c := b.cfg
	var sessions []*models.Session
	for _, s := range b.in.sessions {
		if s.EndedAt == nil && len(sessions) < c.fanSessions {
			sessions = append(sessions, s)
		}
	}
	if len(sessions) == 0 {
		return nil, errors.New("fan-out: no open session in the data set")
	}
	if len(sessions) < c.fanSessions {
		log.Printf("fan-out: only %d open sessions (wanted %d)", len(sessions), c.fanSessions)
	}
	tokenOf := func(s *models.Session) string { return b.in.tokens[b.data.solverCID[s.SolverID]] }
	st := &fanState{tag: p.tag, endKinds: map[string]int{}}
	nConns := (p.subscribers + p.perSocket - 1) / p.perSocket
	res := &fanoutResult{Transport: p.label, Target: p.subscribers, Sessions: len(sessions), Sockets: nConns, PerSocket: p.perSocket}
	log.Printf("fan-out (%s): %d subscribers on %d %s (%d each), %d sessions", p.label, p.subscribers, nConns,
		map[bool]string{true: "SSE streams", false: "websockets"}[p.sse], p.perSocket, len(sessions))

	time.Sleep(500 * time.Millisecond)
	rssBefore := b.srv.rssMB()
	b.srv.resetPeak()
	cpu0 := b.srv.cpuSeconds()

	// Subscriber j follows session j mod sessions, on connection j / perSocket.
	t0 := time.Now()
	conns := make([]*fanConn, nConns)
	for i := range conns {
		fc := &fanConn{}
		for j := i * p.perSocket; j < min((i+1)*p.perSocket, p.subscribers); j++ {
			fc.subs = append(fc.subs, &fanSub{session: j % len(sessions)})
		}
		conns[i] = fc
	}
	tokenFor := func(fc *fanConn) string {
		if len(fc.subs) > 1 {
			return b.in.admin
		}
		return tokenOf(sessions[fc.subs[0].session])
	}
	dial := localDialer(p.srcNet)
	var connErrs atomic.Int64
	var firstConnErr atomic.Value
	failed := func(err error) error {
		if connErrs.Add(1) == 1 {
			firstConnErr.Store(err.Error())
		}
		return err
	}
	wsURL := "ws" + strings.TrimPrefix(b.srv.base, "http") + "/graphql"
	var sseClient *http.Client
	connected := 0
	if p.sse {
		sseClient = &http.Client{Transport: &http.Transport{DialContext: dial, DisableCompression: true,
			MaxIdleConnsPerHost: -1, ResponseHeaderTimeout: 60 * time.Second}}
		runBounded(ctx, nConns, 64, func(i int) error {
			fc := conns[i]
			s := sessions[fc.subs[0].session]
			if err := fc.openSSE(ctx, sseClient, b.srv.base+"/graphql", tokenFor(fc), s.ID, b.data.lastMsg[s.ID]); err != nil {
				conns[i] = nil
				return failed(err)
			}
			go fc.readSSE(st)
			return nil
		})
	} else {
		dialer := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 30 * time.Second,
			ReadBufferSize: 1024, WriteBufferSize: 1024, NetDialContext: dial}
		runBounded(ctx, nConns, 64, func(i int) error {
			if err := conns[i].connect(ctx, dialer, wsURL, tokenFor(conns[i])); err != nil {
				conns[i] = nil
				return failed(err)
			}
			go conns[i].read(st)
			return nil
		})
	}
	defer closeConns(conns)
	for _, fc := range conns {
		if fc != nil {
			connected++
		}
	}
	if !p.sse {
		// Open sockets, not subscribed yet: what a socket alone costs.
		time.Sleep(time.Second)
		if connected > 0 {
			res.BytesPerSocket = round((b.srv.rssMB()-rssBefore)*1024*1024/float64(connected), 0)
		}
		b.snapshot(ctx, "/debug/vars", "fanout-"+p.tag+"-sockets.vars.json")
		runBounded(ctx, nConns, 64, func(i int) error {
			fc := conns[i]
			if fc == nil {
				return nil
			}
			for k, sub := range fc.subs {
				s := sessions[sub.session]
				if err := fc.subscribe(strconv.Itoa(k), s.ID, b.data.lastMsg[s.ID]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	res.ConnectS = round(time.Since(t0).Seconds(), 2)
	log.Printf("fan-out (%s): %d of %d connections open in %.1fs (%d failed); %.0f bytes of server RSS per open socket before subscribing",
		p.label, connected, nConns, res.ConnectS, connErrs.Load(), res.BytesPerSocket)
	if e, ok := firstConnErr.Load().(string); ok {
		log.Printf("  first connect error: %.300s", e)
	}
	res.ConnectErrors = int(connErrs.Load())

	// Probe: one message per session; a subscriber is live once it got its own.
	g := newGQL(b.srv.base)
	defer g.closeIdle()
	probeErrs := runBounded(ctx, len(sessions), 16, func(i int) error {
		return g.do(ctx, tokenOf(sessions[i]), mSend, map[string]any{"id": sessions[i].ID, "body": "bench-probe " + p.tag}, nil)
	})
	if probeErrs > 0 {
		log.Printf("fan-out: %d probe messages failed", probeErrs)
	}
	subsTotal := 0
	for _, fc := range conns {
		if fc != nil {
			subsTotal += len(fc.subs)
		}
	}
	// Setting up a subscriber costs the server a few milliseconds of CPU
	// (token, checks, replay): give large runs the time on a busy machine.
	deadline := time.Now().Add(90*time.Second + time.Duration(subsTotal)*4*time.Millisecond)
	for st.probes.Load() < int64(subsTotal) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	perSession := make([]int, len(sessions))
	for _, fc := range conns {
		if fc == nil {
			continue
		}
		for _, sub := range fc.subs {
			if sub.ready.Load() {
				perSession[sub.session]++
				res.Subscribers++
			}
		}
	}
	time.Sleep(time.Second) // let allocations settle before reading RSS
	rssAfter := b.srv.rssMB()
	res.RSSBeforeMB, res.RSSAfterMB = round(rssBefore, 1), round(rssAfter, 1)
	if res.Subscribers > 0 {
		res.BytesPerSubscription = round((rssAfter-rssBefore)*1024*1024/float64(res.Subscribers), 0)
	}
	res.SetupCPU = round(b.srv.cpuSeconds()-cpu0, 2)
	log.Printf("fan-out (%s): %d subscribers live; server RSS %.1f -> %.1f MB (%.0f bytes per subscriber)",
		p.label, res.Subscribers, rssBefore, rssAfter, res.BytesPerSubscription)
	b.snapshot(ctx, "/debug/pprof/heap?gc=1", "fanout-"+p.tag+".heap.pprof")
	b.snapshot(ctx, "/debug/vars", "fanout-"+p.tag+".vars.json") // after heap?gc=1 collected the garbage: the live numbers
	b.snapshot(ctx, "/debug/pprof/goroutine", "fanout-"+p.tag+".goroutine.pprof")

	// Send at a fixed rate.
	n := int(c.fanRate * c.fanDur.Seconds())
	sendAt := make([]time.Time, n)
	respAt := make([]time.Time, n)
	sentOK := make([]bool, n)
	rec := &recorder{start: time.Now()}
	meter := b.startMeter()
	stopProf := b.cpuProfile(ctx, "fanout-"+p.tag, c.fanDur)
	r := openLoopIndexed(ctx, c.fanRate, n, 64, func(ctx context.Context, i int) error {
		s := sessions[i%len(sessions)]
		sendAt[i] = time.Now()
		body := fmt.Sprintf("bench-fanout %s %d %d", p.tag, i, sendAt[i].UnixNano())
		err := g.do(ctx, tokenOf(s), mSend, map[string]any{"id": s.ID, "body": body}, nil)
		respAt[i] = time.Now()
		rec.record(sendAt[i], respAt[i].Sub(sendAt[i]), err)
		sentOK[i] = err == nil
		return err
	})
	sendEnd := time.Now()
	var expected int64
	for i := range n {
		if sentOK[i] {
			expected += int64(perSession[i%len(sessions)])
		}
	}
	// Wait for the deliveries still on their way.
	for time.Since(sendEnd) < 10*time.Second && ctx.Err() == nil {
		st.mu.Lock()
		got := int64(len(st.receipts))
		st.mu.Unlock()
		if got >= expected {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if stopProf != nil {
		stopProf()
	}
	sendRun := rec.result(sendEnd.Sub(meter.start), r)
	sr := meter.finish(sendRun)
	res.ServerCPU, res.ServerRSS = sr.ServerCPU, round(b.srv.peakMB(), 1)
	if sr.StatementsPerRequest != nil && b.pss {
		res.StatementsPerMessage = sr.StatementsPerRequest
	}
	res.Messages, res.SendErrors = sendRun.ok, sendRun.errs
	res.SendP50, res.SendP99 = sr.P50, sr.P99
	res.Expected = expected

	st.mu.Lock()
	receipts := append([]receipt(nil), st.receipts...)
	st.mu.Unlock()
	res.Delivered = int64(len(receipts))
	res.Lost = max(0, expected-res.Delivered)
	res.Duplicates = st.dups.Load()
	lat := make([]time.Duration, 0, len(receipts))
	after := make([]time.Duration, 0, len(receipts))
	for _, rc := range receipts {
		lat = append(lat, rc.at.Sub(sendAt[rc.idx]))
		if !respAt[rc.idx].IsZero() {
			after = append(after, rc.at.Sub(respAt[rc.idx]))
		}
	}
	sortDurations(lat)
	sortDurations(after)
	res.P50, res.P95, res.P99, res.MaxMS = percentile(lat, 50), percentile(lat, 95), percentile(lat, 99), percentile(lat, 100)
	res.P99AfterResponse = percentile(after, 99)
	res.Disconnected = st.ended.Load()
	st.mu.Lock()
	if len(st.endKinds) > 0 {
		res.DisconnectKinds = errSummary(st.endKinds)
	}
	st.mu.Unlock()
	log.Printf("fan-out (%s): %d messages (%d send errors), %d of %d deliveries, lost %d; p50 %.2f p95 %.2f p99 %.2f max %.2f ms; disconnected %d %s",
		p.label, res.Messages, res.SendErrors, res.Delivered, res.Expected, res.Lost, res.P50, res.P95, res.P99, res.MaxMS, res.Disconnected, res.DisconnectKinds)
	return res, nil
}

// localDialer dials from 127.0.<net>.1-8 in turn: a source address has
// about 28,000 ephemeral ports, and closed connections hold theirs for a
// minute (TIME_WAIT).
func localDialer(netByte int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var n atomic.Int64
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		i := n.Add(1)
		d := net.Dialer{Timeout: 30 * time.Second,
			LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, byte(netByte), byte(1+i%8))}}
		return d.DialContext(ctx, network, addr)
	}
}

// fileLimit is this process's open-file limit (the server's is the same: Go
// raises its soft limit to the hard one at start).
func fileLimit() uint64 {
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) != nil {
		return 1024
	}
	return r.Cur
}

// connect opens a websocket and waits for connection_ack.
func (fc *fanConn) connect(ctx context.Context, d websocket.Dialer, url, token string) error {
	c, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return err
	}
	fail := func(err error) error { c.Close(); return err }
	init, _ := json.Marshal(map[string]any{"Authorization": "Bearer " + token})
	if err := c.WriteJSON(wsMsg{Type: "connection_init", Payload: init}); err != nil {
		return fail(err)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		var m wsMsg
		if err := c.ReadJSON(&m); err != nil {
			return fail(fmt.Errorf("waiting for connection_ack: %w", err))
		}
		if m.Type == "connection_ack" {
			break
		}
		if m.Type == "ping" {
			c.WriteJSON(wsMsg{Type: "pong"})
		}
	}
	c.SetReadDeadline(time.Time{})
	// Answer the server's pings with time to spare: gorilla's own handler
	// gives its pong one second, which a CPU-starved harness can miss, and
	// then drops the socket itself.
	c.SetPingHandler(func(data string) error {
		fc.wmu.Lock()
		defer fc.wmu.Unlock()
		err := c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(15*time.Second))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	fc.c = c
	return nil
}

// subscribe starts a sessionMessages subscription, resuming after the
// session's last message as a client that has just loaded the chat does.
func (fc *fanConn) subscribe(id, sessionID, after string) error {
	p, _ := json.Marshal(map[string]any{"query": subChat, "variables": chatVars(sessionID, after)})
	return fc.write(wsMsg{ID: id, Type: "subscribe", Payload: p})
}

func chatVars(sessionID, after string) map[string]any {
	vars := map[string]any{"id": sessionID}
	if after != "" {
		vars["after"] = after
	}
	return vars
}

func (fc *fanConn) write(m wsMsg) error {
	fc.wmu.Lock()
	defer fc.wmu.Unlock()
	return fc.c.WriteJSON(m)
}

type chatPayload struct {
	Data struct{ SessionMessages struct{ Body string } }
}

// read handles a socket's messages until it closes: it answers pings,
// marks probes, and records measured messages.
func (fc *fanConn) read(st *fanState) {
	for {
		_, data, err := fc.c.ReadMessage()
		now := time.Now()
		if err != nil {
			if !fc.ended.Swap(true) && !closingAll.Load() {
				st.endedWith(err)
			}
			return
		}
		var m wsMsg
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		switch m.Type {
		case "ping":
			fc.write(wsMsg{Type: "pong"})
		case "next":
			k, err := strconv.Atoi(m.ID)
			if err != nil || k < 0 || k >= len(fc.subs) {
				continue
			}
			var p chatPayload
			json.Unmarshal(m.Payload, &p)
			st.record(fc.subs[k], p.Data.SessionMessages.Body, now)
		case "error", "complete":
			if !fc.ended.Swap(true) {
				st.endedWith(fmt.Errorf("%s: %s", m.Type, m.Payload))
			}
		}
	}
}

// openSSE starts a subscription over SSE (graphql-sse, distinct connections).
func (fc *fanConn) openSSE(ctx context.Context, hc *http.Client, url, token, sessionID, after string) error {
	body, _ := json.Marshal(map[string]any{"query": subChat, "variables": chatVars(sessionID, after)})
	ctx, cancel := context.WithCancel(ctx)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		cancel()
		return err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	fc.body, fc.cancel = resp.Body, cancel
	return nil
}

// readSSE handles a stream's events until it ends.
func (fc *fanConn) readSSE(st *fanState) {
	defer fc.body.Close()
	br := bufio.NewReaderSize(fc.body, 1024)
	var event, data string
	for {
		line, err := br.ReadString('\n')
		now := time.Now()
		if err != nil {
			if !fc.ended.Swap(true) && !closingAll.Load() {
				st.endedWith(err)
			}
			return
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			switch event {
			case "next":
				var p chatPayload
				json.Unmarshal([]byte(data), &p)
				st.record(fc.subs[0], p.Data.SessionMessages.Body, now)
			case "complete":
				if !fc.ended.Swap(true) {
					st.endedWith(errors.New("complete"))
				}
			}
			event, data = "", ""
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(line[len("event:"):])
		case strings.HasPrefix(line, "data:"):
			data = strings.TrimPrefix(line[len("data:"):], " ")
		}
	}
}

// closingAll marks the end of a run: connections closing now are not lost.
var closingAll atomic.Bool

func closeConns(conns []*fanConn) {
	closingAll.Store(true)
	defer closingAll.Store(false)
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	for _, fc := range conns {
		switch {
		case fc == nil:
		case fc.c != nil:
			fc.wmu.Lock()
			fc.c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			fc.wmu.Unlock()
			fc.c.Close()
		case fc.cancel != nil:
			fc.cancel()
		}
	}
	time.Sleep(2 * time.Second)
}

// runBounded runs f(0..n-1) with at most par at once and returns the failures.
func runBounded(ctx context.Context, n, par int, f func(int) error) int {
	var fails atomic.Int64
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if f(i) != nil {
				fails.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(fails.Load())
}

// openLoopIndexed calls f(i) for i in 0..n-1 at a fixed rate, with at most
// inFlight outstanding; it returns how many were dropped for that bound.
func openLoopIndexed(ctx context.Context, rate float64, n, inFlight int, f func(context.Context, int) error) int {
	sem := make(chan struct{}, inFlight)
	var wg sync.WaitGroup
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	dropped := 0
	for i := 0; i < n && ctx.Err() == nil; i++ {
		if w := time.Until(start.Add(time.Duration(i) * interval)); w > 0 {
			time.Sleep(w)
		}
		select {
		case sem <- struct{}{}:
		default:
			dropped++
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(ctx, i)
		}()
	}
	wg.Wait()
	return dropped
}
