package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// moduleRoot is the directory of the server's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run the benchmark inside the module (go run ./bench)")
	}
	return filepath.Dir(mod), nil
}

// pprofOverlay is compiled into the server binary only when -pprof is given,
// through `go build -overlay`: the repository's sources stay as they are.
const pprofOverlay = `package main

import (
	_ "expvar"
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	if addr := os.Getenv("BENCH_PPROF_ADDR"); addr != "" {
		go http.ListenAndServe(addr, nil)
	}
}
`

// noLoadersOverlay is compiled into every benchmark build: it lets the
// benchmark (and only it) switch the dataloaders off with
// BENCH_DISABLE_DATALOADERS=1, through the server's benchLoaders hook. The
// server's configuration has no such switch.
const noLoadersOverlay = `package main

import (
	"os"

	"github.com/savvysolve/api/loaders"
)

func init() {
	benchLoaders = func(o *loaders.Options) { o.Disabled = os.Getenv("BENCH_DISABLE_DATALOADERS") == "1" }
}
`

// buildServer builds the server binary into dir, with the benchmark's
// overlay files (the repository's sources stay as they are).
func buildServer(ctx context.Context, root, dir string, pprof bool) (string, error) {
	bin := filepath.Join(dir, "savvysolve")
	files := map[string]string{"zz_bench_loaders.go": noLoadersOverlay}
	if pprof {
		files["zz_bench_pprof.go"] = pprofOverlay
	}
	replace := map[string]string{}
	for name, src := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			return "", err
		}
		replace[filepath.Join(root, name)] = path
	}
	ov, _ := json.Marshal(map[string]any{"Replace": replace})
	ovPath := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(ovPath, ov, 0o644); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "-overlay", ovPath, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build the server: %w\n%s", err, out)
	}
	return bin, nil
}

// server is the server binary running as a child process.
type server struct {
	cmd     *exec.Cmd
	pid     int
	base    string // http://127.0.0.1:PORT
	logPath string
	pprof   string // host:port of net/http/pprof, when built in
	done    chan struct{}
	waitErr error
	// ready is how long the process took from start to /readyz answering 200.
	ready time.Duration
}

// benchServerEnv lifts the server's per-client mutation rate limits for the
// load generator, which is one client sending thousands of requests a second.
// Everything else is the server's default configuration.
var benchServerEnv = []string{
	"RATE_LIMIT_ANON=0",
	"RATE_LIMIT_USER=0",
}

// serverEnv is the environment of a server process.
type serverEnv struct {
	bin, dir    string
	databaseURL string
	secret      string
	extra       []string
	pprof       bool
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer runs `<bin> serve` and waits until /readyz answers 200,
// polling every 2 ms; it records how long that took.
func startServer(ctx context.Context, e serverEnv, name string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(e.dir, "server-"+name+".log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	env := append(os.Environ(),
		"PORT="+strconv.Itoa(port),
		"HOST=127.0.0.1",
		"DATABASE_URL="+e.databaseURL,
		"DATABASE_URL_UNPOOLED="+e.databaseURL,
		"AUTH_JWT_SECRET="+e.secret,
		"APP_ENV=production",
		"MIGRATE_ON_START=false",
		"SEED_ON_START=false",
		"SHUTDOWN_GRACE=2s",
	)
	env = append(env, benchServerEnv...)
	env = append(env, e.extra...)
	s := &server{base: fmt.Sprintf("http://127.0.0.1:%d", port), logPath: logPath, done: make(chan struct{})}
	if e.pprof {
		pp, err := freePort()
		if err != nil {
			return nil, err
		}
		s.pprof = fmt.Sprintf("127.0.0.1:%d", pp)
		env = append(env, "BENCH_PPROF_ADDR="+s.pprof)
	}
	cmd := exec.Command(e.bin, "serve")
	cmd.Dir = e.dir // no .env.local of a developer's working directory
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the server: %w", err)
	}
	s.cmd, s.pid = cmd, cmd.Process.Pid
	go func() { s.waitErr = cmd.Wait(); close(s.done) }()
	if err := s.waitReady(ctx, t0, 30*time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w; server log %s:\n%s", err, logPath, tail(logPath, 20))
	}
	return s, nil
}

var probeClient = &http.Client{
	Timeout:   time.Second,
	Transport: &http.Transport{DisableKeepAlives: false, MaxIdleConnsPerHost: 2},
}

func (s *server) waitReady(ctx context.Context, t0 time.Time, limit time.Duration) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(limit)
	for {
		resp, err := probeClient.Get(s.base + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.ready = time.Since(t0)
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("server exited while starting: %v", s.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("server not ready after %s", limit)
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM and waits for the process to exit (SIGKILL after 10 s).
func (s *server) stop() {
	if s == nil || s.cmd == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-s.pid, syscall.SIGKILL)
		<-s.done
	}
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times (100 on Linux).
const clockTick = 100.0

// procTimes returns utime+stime of pid in seconds, and with children=true
// also the times of its waited-for children (cutime+cstime), and its ppid.
func procTimes(pid int, children bool) (cpu float64, ppid int, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("bad stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); field k is f[k-3].
	if len(f) < 15 {
		return 0, 0, errors.New("short stat")
	}
	num := func(k int) float64 { v, _ := strconv.ParseFloat(f[k-3], 64); return v }
	ppid = int(num(4))
	cpu = num(14) + num(15)
	if children {
		cpu += num(16) + num(17)
	}
	return cpu / clockTick, ppid, nil
}

// cpuSeconds is the CPU time the server has used so far.
func (s *server) cpuSeconds() float64 {
	cpu, _, _ := procTimes(s.pid, false)
	return cpu
}

// memKB reads a "VmXXX:   123 kB" line of /proc/<pid>/status.
func memKB(pid int, field string) float64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, field+":") {
			fs := strings.Fields(line[len(field)+1:])
			if len(fs) > 0 {
				v, _ := strconv.ParseFloat(fs[0], 64)
				return v
			}
		}
	}
	return 0
}

// rssMB is the server's resident set now; peakMB its high-water mark since
// the last resetPeak (or since start).
func (s *server) rssMB() float64  { return memKB(s.pid, "VmRSS") / 1024 }
func (s *server) peakMB() float64 { return memKB(s.pid, "VmHWM") / 1024 }

// resetPeak resets VmHWM to the current RSS (Linux >= 4.0: clear_refs 5).
func (s *server) resetPeak() error {
	return os.WriteFile("/proc/"+strconv.Itoa(s.pid)+"/clear_refs", []byte("5"), 0)
}

// pgCPU is the CPU time of a postmaster and all its processes so far: live
// children's own times plus the postmaster's, with what exited children left
// in its cutime/cstime.
func pgCPU(postmaster int) float64 {
	if postmaster == 0 {
		return 0
	}
	total, _, _ := procTimes(postmaster, true)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == postmaster {
			continue
		}
		cpu, ppid, err := procTimes(pid, false)
		if err == nil && ppid == postmaster {
			total += cpu
		}
	}
	return total
}

// stealMS is the machine's steal time so far (the eighth field of the cpu
// line of /proc/stat, in USER_HZ ticks: clockTick), in ms; 0 if unreadable.
func stealMS() float64 {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	ticks, err := strconv.ParseFloat(f[8], 64)
	if err != nil {
		return 0
	}
	return ticks * 1000 / clockTick
}

// selfCPU is this process's CPU time so far (the load generator's cost).
func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// raiseFileLimit lifts RLIMIT_NOFILE as far as allowed; the server child
// inherits it (10,000 websockets need 10,000 descriptors on each side).
func raiseFileLimit() error {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return err
	}
	want := uint64(1 << 16)
	if r.Max < want {
		// Root may raise the hard limit too.
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: want}); err == nil {
			return nil
		}
		want = r.Max
	}
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: max(r.Max, want)})
}

// metricStatements reads the server's savvysolve_sql_statements_per_request
// histogram (sum and count) from /metrics; ok=false when it is not exposed.
func (s *server) metricStatements() (sum, count float64, ok bool) {
	resp, err := probeClient.Get(s.base + "/metrics")
	if err != nil {
		return 0, 0, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, false
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var haveSum, haveCount bool
	for sc.Scan() {
		line := sc.Text()
		name, val, found := strings.Cut(line, " ")
		if !found || strings.HasPrefix(line, "#") {
			continue
		}
		base := name
		if i := strings.IndexByte(name, '{'); i >= 0 {
			base = name[:i]
		}
		v, err := strconv.ParseFloat(strings.Fields(val)[0], 64)
		if err != nil {
			continue
		}
		switch base {
		case "savvysolve_sql_statements_per_request_sum":
			sum += v
			haveSum = true
		case "savvysolve_sql_statements_per_request_count":
			count += v
			haveCount = true
		}
	}
	return sum, count, haveSum && haveCount
}
