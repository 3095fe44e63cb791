package playground_test

import (
	"bufio"
	"crypto/sha512"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/savvysolve/api/internal/playground"
)

// newServer wires the page and the assets the way a server would.
func newServer(t *testing.T, opts playground.Options) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", playground.Handler("SavvySolve API", "/graphql", opts))
	mux.Handle("GET /playground/", http.StripPrefix("/playground/", playground.Assets()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp, body
}

var (
	tagRe       = regexp.MustCompile(`(?s)<(script|link)\b[^>]*>`)
	attrRe      = regexp.MustCompile(`\b(src|href|integrity)="([^"]*)"`)
	absoluteRe  = regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	cdnRe       = regexp.MustCompile(`(?i)jsdelivr|unpkg|esm\.sh|cdnjs|googleapis|skypack`)
	importURLRe = regexp.MustCompile(`import\s*\(?\s*["'][^"']+["']`)
)

type ref struct {
	tag, url, integrity string
}

// refs returns every script src and link href in page.
func refs(t *testing.T, page string) []ref {
	t.Helper()
	var out []ref
	for _, m := range tagRe.FindAllStringSubmatch(page, -1) {
		r := ref{tag: m[1]}
		for _, a := range attrRe.FindAllStringSubmatch(m[0], -1) {
			v := html.UnescapeString(a[2]) // as the browser reads it
			switch a[1] {
			case "src", "href":
				r.url = v
			case "integrity":
				r.integrity = v
			}
		}
		if r.url != "" {
			out = append(out, r)
		}
	}
	return out
}

func TestPageLoadsOnlyLocalAssets(t *testing.T) {
	srv := newServer(t, playground.Options{})
	resp, body := get(t, srv.URL+"/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("GET /: Content-Type %q", ct)
	}
	page := string(body)
	if !strings.Contains(page, "<title>SavvySolve API</title>") {
		t.Error("page lacks its title")
	}
	if !strings.Contains(page, `"/graphql"`) {
		t.Error("page does not point at the /graphql endpoint")
	}
	if m := cdnRe.FindString(page); m != "" {
		t.Errorf("page mentions a CDN: %q", m)
	}
	if m := importURLRe.FindString(page); m != "" {
		t.Errorf("page has an ES module import: %q", m)
	}

	rs := refs(t, page)
	wantTypes := map[string]string{"script": "text/javascript", "link": "text/css"}
	counts := map[string]int{}
	for _, r := range rs {
		counts[r.tag]++
		if m := absoluteRe.FindString(r.url); m != "" {
			t.Errorf("<%s> loads %q from another host (%q)", r.tag, r.url, m)
			continue
		}
		if !strings.HasPrefix(r.url, "/playground/") {
			t.Errorf("<%s> loads %q, not under /playground/", r.tag, r.url)
			continue
		}
		resp, asset := get(t, srv.URL+r.url)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d", r.url, resp.StatusCode)
			continue
		}
		if len(asset) == 0 {
			t.Errorf("GET %s: empty body", r.url)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, wantTypes[r.tag]) {
			t.Errorf("GET %s: Content-Type %q, want %s", r.url, ct, wantTypes[r.tag])
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") {
			t.Errorf("GET %s: Cache-Control %q, want a long max-age", r.url, cc)
		}
		sum := sha512.Sum384(asset)
		if want := "sha384-" + base64.StdEncoding.EncodeToString(sum[:]); r.integrity != want {
			t.Errorf("<%s %s> integrity %q, want %q", r.tag, r.url, r.integrity, want)
		}
	}
	// react, react-dom, graphiql, explorer; graphiql and explorer styles.
	if counts["script"] != 4 || counts["link"] != 2 {
		t.Errorf("page loads %d scripts and %d stylesheets, want 4 and 2: %+v", counts["script"], counts["link"], rs)
	}
}

func TestAssetPrefix(t *testing.T) {
	h := playground.Handler("API", "/graphql", playground.Options{AssetPrefix: "/static/pg"})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	for _, r := range refs(t, rec.Body.String()) {
		if !strings.HasPrefix(r.url, "/static/pg/") {
			t.Errorf("%q is not under /static/pg/", r.url)
		}
	}
}

func TestHeaders(t *testing.T) {
	srv := newServer(t, playground.Options{
		Headers: map[string]string{"Authorization": "Bearer dev-token"},
		HeaderSets: map[string]map[string]string{
			"alice (admin)": {"Authorization": "Bearer alice-token"},
			"bob":           {"Authorization": "Bearer bob-token", "X-Tenant": "t1"},
		},
	})
	_, body := get(t, srv.URL+"/")
	page := string(body)
	for _, want := range []string{
		"dev-token",          // initial headers, in gqlgen's uiHeaders
		`id="pg-header-set"`, // the header-set select
		">alice (admin)<",
		">bob<",
		"alice-token",
		"X-Tenant",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Index(page, ">alice (admin)<") > strings.Index(page, ">bob<") {
		t.Error("header sets are not sorted by name")
	}
	if i, j := strings.Index(page, `id="pg-header-set"`), strings.LastIndex(page, "</body>"); i > j {
		t.Error("header-set select is not inside <body>")
	}

	// Without header sets there is no select.
	srv = newServer(t, playground.Options{})
	if _, body := get(t, srv.URL+"/"); strings.Contains(string(body), "pg-header-set") {
		t.Error("page shows a header-set select with no header sets")
	}
}

func TestHeaderSetsAreEscaped(t *testing.T) {
	h := playground.Handler("API", "/graphql", playground.Options{
		HeaderSets: map[string]map[string]string{
			"</script><b>x": {"X": "</script><script>alert(1)</script>"},
		},
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if page := rec.Body.String(); strings.Contains(page, "<script>alert(1)") || strings.Contains(page, "<b>x") {
		t.Error("header set names or values are not escaped")
	}
}

func TestAssetsServing(t *testing.T) {
	srv := newServer(t, playground.Options{})

	resp, _ := get(t, srv.URL+"/playground/nope.js")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown asset: status %d, want 404", resp.StatusCode)
	}
	resp, _ = get(t, srv.URL+"/playground/graphiql/")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("directory: status %d, want 404", resp.StatusCode)
	}

	resp, _ = get(t, srv.URL+"/playground/react/react.production.min.js")
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/playground/react/react.production.min.js", nil)
	req.Header.Set("If-None-Match", etag)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d, want 304", resp.StatusCode)
	}
}

// TestVersionsFile checks that assets/VERSIONS (written by
// scripts/playground-assets.sh) matches the embedded files.
func TestVersionsFile(t *testing.T) {
	f, err := os.Open("assets/VERSIONS")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	srv := newServer(t, playground.Options{})
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) != 4 || !strings.Contains(fields[0][1:], "@") {
			t.Errorf("malformed VERSIONS line %q", line)
			continue
		}
		n++
		resp, body := get(t, srv.URL+"/playground/"+fields[1])
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", fields[1], resp.StatusCode)
			continue
		}
		sum := sha512.Sum384(body)
		if got := "sha384-" + base64.StdEncoding.EncodeToString(sum[:]); got != fields[3] {
			t.Errorf("%s: %s, VERSIONS says %s; re-run scripts/playground-assets.sh", fields[1], got, fields[3])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 6 {
		t.Errorf("VERSIONS lists %d files, want 6", n)
	}
}
