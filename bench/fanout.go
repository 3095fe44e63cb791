package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/savvysolve/api/models"
)

const subChat = `subscription Chat($id: ID!, $after: ID) { sessionMessages(sessionId: $id, after: $after) {
  id sender body createdAt author { name } } }`

// fanSub is one subscriber: a websocket with one sessionMessages subscription.
type fanSub struct {
	c       *websocket.Conn
	wmu     sync.Mutex // one writer at a time: the subscriber's reader answers pings
	session int
	ready   atomic.Bool // has received its session's probe message
	got     []int32     // message indexes received (its reader only)
	ended   atomic.Bool
	endErr  error
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
	mu       sync.Mutex
	receipts []receipt
	probes   atomic.Int64 // subscribers that got their probe
	ended    atomic.Int64 // subscribers whose socket closed
	endKinds map[string]int
	dups     atomic.Int64
}

func (st *fanState) endedWith(err error) {
	st.ended.Add(1)
	kind := "read error"
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		kind = fmt.Sprintf("close %d %s", ce.Code, ce.Text)
	}
	st.mu.Lock()
	st.endKinds[kind]++
	st.mu.Unlock()
}

// fanout connects the subscribers (each with the token of its session's
// solver, resuming after the session's last message as a client that has
// just loaded the chat does), proves every subscription is live with one
// probe message per session, then sends messages at a fixed rate and
// measures, per delivery, the time from the start of sendMessage to receipt.
func (b *bench) fanout(ctx context.Context) (*fanoutResult, error) {
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
	wsURL := "ws" + strings.TrimPrefix(b.srv.base, "http") + "/graphql"
	st := &fanState{endKinds: map[string]int{}}
	res := &fanoutResult{Target: c.subscribers, Sessions: len(sessions)}

	time.Sleep(500 * time.Millisecond)
	rssBefore := b.srv.rssMB()
	b.srv.resetPeak()
	cpu0 := b.srv.cpuSeconds()

	// Connect every socket (connection_init, ack), then measure, then subscribe.
	t0 := time.Now()
	subs := make([]*fanSub, c.subscribers)
	var connErrs atomic.Int64
	var firstConnErr atomic.Value
	dialer := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 30 * time.Second,
		ReadBufferSize: 1024, WriteBufferSize: 1024}
	runBounded(ctx, len(subs), 64, func(i int) error {
		s := sessions[i%len(sessions)]
		sub, err := connectSocket(ctx, dialer, wsURL, tokenOf(s))
		if err != nil {
			if connErrs.Add(1) == 1 {
				firstConnErr.Store(err.Error())
			}
			return err
		}
		sub.session = i % len(sessions)
		subs[i] = sub
		go sub.read(st)
		return nil
	})
	defer closeSubs(subs)
	connected := 0
	for _, s := range subs {
		if s != nil {
			connected++
		}
	}
	time.Sleep(time.Second)
	rssSockets := b.srv.rssMB()
	if connected > 0 {
		res.BytesPerSocket = round((rssSockets-rssBefore)*1024*1024/float64(connected), 0)
	}
	b.snapshot(ctx, "/debug/vars", "fanout-sockets.vars.json") // memstats of the open sockets alone
	runBounded(ctx, len(subs), 64, func(i int) error {
		if subs[i] == nil {
			return nil
		}
		s := sessions[subs[i].session]
		return subs[i].subscribe(s.ID, b.data.lastMsg[s.ID])
	})
	res.ConnectS = round(time.Since(t0).Seconds(), 2)
	log.Printf("fan-out: %d of %d subscribers connected in %.1fs (%d failed); %.0f bytes of server RSS per open socket before subscribing",
		connected, c.subscribers, res.ConnectS, connErrs.Load(), res.BytesPerSocket)
	if e, ok := firstConnErr.Load().(string); ok {
		log.Printf("  first connect error: %.300s", e)
	}
	res.ConnectErrors = int(connErrs.Load())

	// Probe: one message per session; a subscriber is live once it got its own.
	g := newGQL(b.srv.base)
	defer g.closeIdle()
	probeErrs := runBounded(ctx, len(sessions), 16, func(i int) error {
		return g.do(ctx, tokenOf(sessions[i]), mSend, map[string]any{"id": sessions[i].ID, "body": "bench-probe"}, nil)
	})
	if probeErrs > 0 {
		log.Printf("fan-out: %d probe messages failed", probeErrs)
	}
	deadline := time.Now().Add(60 * time.Second)
	for st.probes.Load() < int64(connected) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	perSession := make([]int, len(sessions))
	for _, s := range subs {
		if s != nil && s.ready.Load() {
			perSession[s.session]++
			res.Subscribers++
		}
	}
	time.Sleep(time.Second) // let allocations settle before reading RSS
	rssAfter := b.srv.rssMB()
	res.RSSBeforeMB, res.RSSAfterMB = round(rssBefore, 1), round(rssAfter, 1)
	if res.Subscribers > 0 {
		res.BytesPerSubscription = round((rssAfter-rssBefore)*1024*1024/float64(res.Subscribers), 0)
	}
	res.SetupCPU = round(b.srv.cpuSeconds()-cpu0, 2)
	log.Printf("fan-out: %d subscribers live; server RSS %.1f -> %.1f MB (%.0f bytes per subscription)",
		res.Subscribers, rssBefore, rssAfter, res.BytesPerSubscription)
	b.snapshot(ctx, "/debug/pprof/heap?gc=1", "fanout.heap.pprof")
	b.snapshot(ctx, "/debug/vars", "fanout.vars.json") // after heap?gc=1 collected the garbage: the live numbers
	b.snapshot(ctx, "/debug/pprof/goroutine", "fanout.goroutine.pprof")

	// Send at a fixed rate.
	n := int(c.fanRate * c.fanDur.Seconds())
	sendAt := make([]time.Time, n)
	respAt := make([]time.Time, n)
	sentOK := make([]bool, n)
	rec := &recorder{}
	meter := b.startMeter()
	stopProf := b.cpuProfile(ctx, "fanout", c.fanDur)
	r := openLoopIndexed(ctx, c.fanRate, n, 64, func(ctx context.Context, i int) error {
		s := sessions[i%len(sessions)]
		sendAt[i] = time.Now()
		body := fmt.Sprintf("bench-fanout %d %d", i, sendAt[i].UnixNano())
		err := g.do(ctx, tokenOf(s), mSend, map[string]any{"id": s.ID, "body": body}, nil)
		respAt[i] = time.Now()
		rec.record(respAt[i].Sub(sendAt[i]), err)
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
	log.Printf("fan-out: %d messages (%d send errors), %d of %d deliveries, lost %d; p50 %.2f p95 %.2f p99 %.2f max %.2f ms; disconnected %d %s",
		res.Messages, res.SendErrors, res.Delivered, res.Expected, res.Lost, res.P50, res.P95, res.P99, res.MaxMS, res.Disconnected, res.DisconnectKinds)
	return res, nil
}

// connectSocket opens a websocket and waits for connection_ack.
func connectSocket(ctx context.Context, d websocket.Dialer, url, token string) (*fanSub, error) {
	c, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*fanSub, error) { c.Close(); return nil, err }
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
	return &fanSub{c: c}, nil
}

// subscribe starts the sessionMessages subscription, resuming after the
// session's last message as a client that has just loaded the chat does.
func (s *fanSub) subscribe(sessionID, after string) error {
	vars := map[string]any{"id": sessionID}
	if after != "" {
		vars["after"] = after
	}
	p, _ := json.Marshal(map[string]any{"query": subChat, "variables": vars})
	return s.write(wsMsg{ID: "1", Type: "subscribe", Payload: p})
}

func (s *fanSub) write(m wsMsg) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.c.WriteJSON(m)
}

// read handles the subscriber's messages until its socket closes: it
// answers pings, marks the probe, and records measured messages.
func (s *fanSub) read(st *fanState) {
	for {
		_, data, err := s.c.ReadMessage()
		now := time.Now()
		if err != nil {
			if !s.ended.Swap(true) {
				s.endErr = err
				if !closingAll.Load() {
					st.endedWith(err)
				}
			}
			return
		}
		var m wsMsg
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		switch m.Type {
		case "ping":
			s.write(wsMsg{Type: "pong"})
		case "next":
			var p struct {
				Data struct{ SessionMessages struct{ Body string } }
			}
			json.Unmarshal(m.Payload, &p)
			body := p.Data.SessionMessages.Body
			switch {
			case body == "bench-probe":
				if !s.ready.Swap(true) {
					st.probes.Add(1)
				}
			case strings.HasPrefix(body, "bench-fanout "):
				f := strings.Fields(body)
				idx, err := strconv.Atoi(f[1])
				if err != nil {
					continue
				}
				dup := false
				for _, g := range s.got {
					dup = dup || g == int32(idx)
				}
				if dup {
					st.dups.Add(1)
					continue
				}
				s.got = append(s.got, int32(idx))
				st.mu.Lock()
				st.receipts = append(st.receipts, receipt{idx: int32(idx), at: now})
				st.mu.Unlock()
			}
		case "error", "complete":
			if !s.ended.Swap(true) {
				st.endedWith(fmt.Errorf("%s: %s", m.Type, m.Payload))
			}
		}
	}
}

// closingAll marks the end of the run: sockets closing now are not lost.
var closingAll atomic.Bool

func closeSubs(subs []*fanSub) {
	closingAll.Store(true)
	defer closingAll.Store(false)
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	for _, s := range subs {
		if s != nil {
			s.wmu.Lock()
			s.c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			s.wmu.Unlock()
			s.c.Close()
		}
	}
	time.Sleep(500 * time.Millisecond)
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
